"""Every key of the files says what is allowed (errors quote it) and is documented."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel

from counsel_bot.config.schema import CountryFile, DeploymentFile


def keys(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, str | None]]:
    for name, field in model.model_fields.items():
        yield prefix + name, field.description
        many = get_origin(field.annotation) is list
        inner = get_args(field.annotation)[0] if many else field.annotation
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from keys(inner, f"{prefix}{name}{'[]' if many else ''}.")


@pytest.mark.parametrize("model", [DeploymentFile, CountryFile])
def test_every_key_says_what_is_allowed_and_is_documented(model, project_root):
    docs = (project_root / "docs" / "content-authoring.md").read_text(encoding="utf-8")
    for key, description in keys(model):
        assert description, f"{key} has no description to quote in its errors"
        assert f"| `{key}` |" in docs, f"{key} is not in docs/content-authoring.md"
