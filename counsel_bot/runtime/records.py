"""Effects as JSON records, and back: a step's outcome is kept in the chat's shard so that a
step carried out again after a crash repeats what it asked for, instead of deciding again.

Effects are frozen dataclasses of plain values (strings, numbers, booleans, None, tuples of
those, dicts). Tuples become lists in JSON; the codec turns them back into tuples.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class RecordError(ValueError):
    """A record names an effect type the codec does not know, or does not fit it."""


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


class EffectCodec:
    def __init__(self, kinds: list[type]) -> None:
        self._kinds = {kind.__name__: kind for kind in kinds}

    def encode(self, effect: Any) -> dict[str, Any]:
        name = type(effect).__name__
        if self._kinds.get(name) is not type(effect):
            raise RecordError(f"no record form for {name}")
        return {"type": name, **{f.name: _plain(getattr(effect, f.name))
                                 for f in dataclasses.fields(effect)}}

    def decode(self, record: dict[str, Any]) -> Any:
        fields = dict(record)
        kind = self._kinds.get(str(fields.pop("type", "")))
        if kind is None:
            raise RecordError(f"unknown effect record {record.get('type')!r}")
        known = {f.name for f in dataclasses.fields(kind)}
        try:
            return kind(**{k: _tuples(v) for k, v in fields.items() if k in known})
        except TypeError as exc:
            raise RecordError(f"{kind.__name__}: {exc}") from None
