"""Russian and Ukrainian words meet the lexicon by dictionary form (screening/lemmas.py)."""

from __future__ import annotations

import logging

import pytest

from counsel_bot.screening import DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES, Screener, lemmas
from counsel_bot.screening.lemmas import Lemmatiser


@pytest.fixture(scope="module")
def uk() -> Lemmatiser:
    return Lemmatiser("uk")


def test_a_ukrainian_form_the_lexicon_does_not_list_is_found_by_its_lemma(
        screener: Screener) -> None:
    # the Ukrainian file lists "сокиру" (an axe, accusative); Ukrainian has no Snowball
    # stemmer, so "з сокирою" (with an axe) was not a weapon
    result = screener.screen("він п'яний ломиться в двері з сокирою")
    assert result.severity == "urgent" and "threat_to_life" in result.categories


def test_a_known_form_is_not_read_as_another_word_by_stem_or_typo(screener: Screener) -> None:
    # "долго" (for a long time) shares its stem with "долга" (of a debt), one letter apart
    assert screener.screen("Банк заблокировал карту, потому что я долго не был в "
                           "стране.").severity == "none"
    # the debt itself is still found, in a form the lexicon does not list
    assert screener.screen("у меня большие долги").categories == ("trafficking_exploitation",)


def test_a_reflexive_verb_meets_its_verb(screener: Screener) -> None:
    # "закончится" (will come to an end) is "закончиться" in the dictionary, "закончить"
    # (to end) in the lexicon: read by lemma alone they would not meet
    result = screener.screen("Сегодня ночью всё закончится, не ищите.")
    assert result.severity == "urgent" and result.categories == ("suicide_self_harm",)


def test_unlikely_readings_and_unknown_words(uk: Lemmatiser) -> None:
    assert uk.lemmas("вмираю") == {"вмирати"}
    assert uk.lemmas("ломиться") == {"ломити"}  # reflexive, as its verb
    assert uk.lemmas("ззззз") == frozenset()  # unknown: stems and typos decide


def test_a_missing_dictionary_is_said_once_and_screening_goes_on(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def no_dictionary(self: Lemmatiser, language: str) -> None:
        raise ImportError("No module named 'pymorphy3_dicts_uk'")

    monkeypatch.setattr(Lemmatiser, "__init__", no_dictionary)
    with caplog.at_level(logging.WARNING):
        found = lemmas.lemmatisers(("ru", "uk", "en"))
    assert found == {}
    assert caplog.text.count("no ru dictionary forms") == 1
    assert caplog.text.count("no uk dictionary forms") == 1
    without = Screener.from_locales(DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES)  # stems, typos
    assert without.screen("я хочу умереть").severity == "urgent"
    assert without.screen("у меня большие долги").severity == "high"  # by stem


def test_the_dictionaries_are_loaded_at_the_first_cyrillic_word() -> None:
    """They cost about 40 MB and 0.13 s in each process that screens: a start, and a bot
    whose people write in other scripts, do without them."""
    fresh = Screener.from_locales(DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES)
    assert fresh.concepts is not None
    forms = fresh.concepts._forms
    fresh.screen("I want to die")
    fresh.screen("أريد أن أموت")
    assert forms._loaded is None
    assert fresh.screen("він п'яний ломиться в двері з сокирою").severity == "urgent"
    assert forms._loaded is not None
