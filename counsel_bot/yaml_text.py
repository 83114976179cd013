"""YAML read with libyaml's C parser when PyYAML has it (ten times faster than the pure
Python one, which cost about a second of every start and of every step process's)."""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """``yaml.safe_load``, with the C loader where there is one."""
    return yaml.load(text, Loader=SafeLoader)


def compose(text: str) -> yaml.Node | None:
    """The node tree (with line numbers), with the C loader where there is one."""
    return yaml.compose(text, Loader=SafeLoader)
