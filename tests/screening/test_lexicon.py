"""Lexicon format: pattern syntax, validation errors naming file and entry, shipped files."""

from __future__ import annotations

from pathlib import Path

import pytest

from counsel_bot.screening import DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES, LexiconError, Screener
from counsel_bot.screening.lexicon import CATEGORIES, compile_pattern, load_lexicon
from counsel_bot.screening.normalize import normalize


def matches(pattern: str, text: str, groups: dict[str, tuple[str, ...]] | None = None) -> bool:
    compiled = compile_pattern(pattern, groups or {}, "test")
    norm = normalize(text)
    starts = [0] + [i + 1 for i, ch in enumerate(norm) if ch in " \n"]
    return any(compiled.regex.match(norm, i) for i in starts)


@pytest.mark.parametrize(
    "text", ["kill myself", "killing myself", "I killed myself", "KILLS myself"]
)
def test_stem_wildcard(text: str) -> None:
    assert matches("kill* myself", text)


def test_whole_words_only() -> None:
    assert not matches("kill myself", "skill myselfish")
    assert not matches("die", "diet")


def test_leading_wildcard_for_attached_prefixes() -> None:
    assert matches("*قتلني", "سيقتلني")
    assert matches("*قتلني", "رح يقتلني")
    assert not matches("*قتلني", "قتلنيه")


def test_gap_is_bounded_and_stays_in_the_clause() -> None:
    groups = {"passport": ("passport*", "papers")}
    pattern = "{passport} ... {took|kept}"
    assert matches(pattern, "papers took", groups)
    assert matches(pattern, "my passport they have now kept", groups)
    assert not matches(pattern, "passport one two three four kept", groups)
    assert not matches(pattern, "passport. they kept", groups)


def test_choices_optional_and_groups() -> None:
    assert matches("i m {|really} dying", "I'm dying")
    assert matches("i m {|really} dying", "I'm really dying")
    assert matches("{want|wanna} to die", "wanna to die")
    assert matches("took my {passport}", "they took my papers", {"passport": ("papers",)})


def test_persian_prefix_in_pattern_is_joined_like_text() -> None:
    assert matches("می خواهم بمیرم", "می‌خواهم بمیرم")
    assert matches("می‌خواهم بمیرم", "میخواهم بمیرم")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("... die", "cannot start or end with '...'"),
        ("a ... b ... c ... d", "at most 2"),
        ("{nope} die", "unknown group {nope}"),
        ("{|a} b", "cannot start with an optional"),
        ("a | b", "unbalanced"),
        ("want {to die", "unbalanced"),
        ("* me", "wildcard needs letters"),
        ("", "non-empty string"),
    ],
)
def test_bad_patterns(pattern: str, message: str) -> None:
    with pytest.raises(LexiconError, match=message.replace("{", r"\{").replace("}", r"\}")):
        compile_pattern(pattern, {}, "test")


def test_a_good_file_loads(write_lexicon) -> None:
    _, path = write_lexicon()
    lexicons = load_lexicon(path, "xx")
    assert [lex.id for lex in lexicons] == ["xx"]
    assert len(lexicons[0].entries) == 3


BAD_FILES = [
    ("language: xx\ncategories: {suicide_self_harm: [{pattern: 'x', severity: urgnt}]}",
     "categories.suicide_self_harm[0]", "severity must be one of"),
    ("language: xx\ncategories: {sadness: [{pattern: 'x', severity: high}]}",
     "categories.sadness", "unknown category"),
    ("language: xx\ncategories: {no_food: [{pattern: no, severity: high}]}",
     "categories.no_food[0]", "quote it"),
    ("language: xx\ncategories: {no_food: [{pattern: 'x {grp}', severity: high}]}",
     "categories.no_food[0] (pattern 'x {grp}')", "unknown group"),
    ("language: xx\ncategories: {no_food: [{patterns: ['ok', '... x'], severity: high}]}",
     "categories.no_food[0].patterns[1]", "cannot start"),
    ("language: xx\ncategories: {no_food: [{pattern: 'x', severity: high, sevrity: 1}]}",
     "categories.no_food[0]", "unknown key"),
    ("language: xx\nnegations: [not, '{']\ncategories: {no_food: [{pattern: x, severity: high}]}",
     "negations[1]", "unbalanced"),
    ("language: yy\ncategories: {no_food: [{pattern: x, severity: high}]}",
     "language", "does not match folder"),
    ("language: xx\ncategories: {no_food: [{pattern: x, severity: high}]\n  - bad", "",
     "invalid YAML"),
    ("language: xx\ncategories: {}", "categories", "a mapping of category"),
    ("language: xx\nnegation_window: 50\ncategories: {no_food: [{pattern: x, severity: high}]}",
     "negation_window", "1 to 10"),
    ("language: xx\ncategories: {no_food: [{pattern: x, severity: high}]}\n"
     "variants: {latin: {categories: {no_food: [{pattern: '{', severity: high}]}}}",
     "variants.latin.categories.no_food[0]", "unbalanced"),
]


@pytest.mark.parametrize(("text", "where", "message"), BAD_FILES)
def test_malformed_file_raises_error_naming_file_and_entry(
    write_lexicon, text: str, where: str, message: str
) -> None:
    locales, path = write_lexicon(text)
    with pytest.raises(LexiconError) as info:
        Screener.from_locales(locales, ["xx"])
    assert str(path) in str(info.value)
    assert where in str(info.value)
    assert message in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match="cannot read lexicon"):
        Screener.from_locales(tmp_path, ["en"])


CONCEPT_ONLY = ("ps", "ur", "uk", "so", "ti", "bn")  # written in the concept format (issue 12)


def concept_categories(lang: str) -> set[str]:
    """The categories that some shared rule can reach with this language's concepts alone."""
    import yaml

    rules = yaml.safe_load((DEFAULT_LOCALES_DIR / "distress_rules.yaml").read_text("utf-8"))
    data = yaml.safe_load((DEFAULT_LOCALES_DIR / lang / "distress.yaml").read_text("utf-8"))
    have = set(data["concepts"])
    return {category for category, entries in rules["entries"].items()
            if any(all(set(slot.split("|")) & have for slot in entry["concepts"])
                   for entry in entries)}


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_shipped_lexicons(lang: str) -> None:
    path = DEFAULT_LOCALES_DIR / lang / "distress.yaml"
    header = path.read_text(encoding="utf-8").split("\nlanguage:")[0]
    assert "clinical staff" in header and "STARTING LEXICON" in header
    lexicons = load_lexicon(path, lang)
    categories = {e.category for lex in lexicons for e in lex.entries}
    if lang in CONCEPT_ONLY:  # phrase patterns for a few entries; the concepts do the rest
        assert categories <= set(CATEGORIES) and categories
        assert concept_categories(lang) == set(CATEGORIES), lang
    else:
        assert categories == set(CATEGORIES)
    assert lexicons[0].negations and lexicons[0].idioms
    if lang == "ar":
        assert [lex.id for lex in lexicons] == ["ar", "ar/latin"]


def test_every_shipped_pattern_compiles() -> None:
    """Patterns compile when first tried (start-up stays fast), so a broken one would
    only show on the message that needs it: here every shipped one is compiled."""
    from counsel_bot.config.resources import packaged_locales
    from counsel_bot.screening.lexicon import load_lexicon

    count = 0
    for path in sorted(packaged_locales().glob("*/distress.yaml")):
        for lexicon in load_lexicon(path, path.parent.name):
            for entry in lexicon.entries:
                assert entry.pattern.regex.pattern == entry.pattern.full
                count += 1
    assert count > 500
