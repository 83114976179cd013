"""The benchmark scripts stay runnable: each imports (so a moved name breaks a test, not a
benchmark run weeks later) and says how to run it."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted(p.stem for p in (Path(__file__).parent.parent / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_imports_and_has_usage(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.__doc__ and "python benchmarks/" in module.__doc__
