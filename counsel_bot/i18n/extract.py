"""Which strings of the YAML content are user-facing, and a Babel extractor for them.

One rule decides what is translatable, used by `pybabel extract` (through the
`babel.extractors` entry point) and by the start-up check that every text is translated.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from counsel_bot import yaml_text

# Keys whose string values are shown to people.
TRANSLATABLE_KEYS = frozenset(
    {
        "text", "vital_interest_note", "learning_note", "accept", "decline", "label", "empty",
        "granted", "withdrawn", "declined", "never", "withdraw", "give", "close",
        "name", "description", "limits", "conditions", "rumour", "fact", "hours",
        "organisation", "address",
    }
)
# Keys whose values are maps of translatable strings.
TRANSLATABLE_MAPS = frozenset({"purposes", "texts"})


# Keys whose whole tree is shown to people (every string below them), except NOT_TEXT keys.
TRANSLATABLE_TREES = frozenset({"questions"})
NOT_TEXT = frozenset({"code", "type", "next", "goto", "purpose", "flow", "start"})


def _walk(node: yaml.Node, translatable: bool, key: str = "",
          tree: bool = False) -> Iterator[tuple[str, int, str]]:
    if isinstance(node, yaml.ScalarNode):
        if translatable and node.tag.endswith(":str") and node.value.strip():
            yield key, node.start_mark.line + 1, node.value
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, translatable, f"{key}[{index}]", tree)
    elif isinstance(node, yaml.MappingNode):
        for name_node, value in node.value:
            name = name_node.value if isinstance(name_node, yaml.ScalarNode) else ""
            path = f"{key}.{name}" if key else str(name)
            if tree:
                yield from _walk(value, name not in NOT_TEXT, path, name not in NOT_TEXT)
            elif name in TRANSLATABLE_TREES:
                yield from _walk(value, True, path, True)
            elif name in TRANSLATABLE_MAPS:
                yield from _walk(value, True, path)
            elif isinstance(value, yaml.ScalarNode):
                yield from _walk(value, translatable or name in TRANSLATABLE_KEYS, path)
            else:
                yield from _walk(value, translatable, path)


def keyed_texts_in_yaml(source: str) -> list[tuple[str, int, str]]:
    """(key, line, text) for every user-facing string; key as services[2].limits."""
    node = yaml_text.compose(source)
    return list(_walk(node, False)) if node is not None else []


def texts_in_yaml(source: str) -> list[tuple[int, str]]:
    """(line, text) for every user-facing string of a YAML document."""
    return [(line, text) for _key, line, text in keyed_texts_in_yaml(source)]


def texts_in_file(path: Path) -> list[tuple[int, str]]:
    return texts_in_yaml(path.read_text(encoding="utf-8"))


def extract_dialogs(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel extraction method for dialog and country YAML files."""
    encoding = options.get("encoding", "utf-8")
    for line, text in texts_in_yaml(fileobj.read().decode(encoding)):
        yield line, None, text, []
