"""Typo tolerance does not read one everyday word as another (screening/everyday.py)."""

from __future__ import annotations

import pytest

from counsel_bot.screening import Screener
from counsel_bot.screening.concepts import FUZZY_MIN
from counsel_bot.screening.everyday import EverydayWords


def concepts_found(screener: Screener, text: str) -> set[str]:
    line = next(x for x in screener.explain(text) if x.startswith("concepts found:"))
    return {c.strip() for c in line.split(":", 1)[1].split(",") if c.strip()}


@pytest.fixture(scope="module")
def everyday() -> EverydayWords:
    return EverydayWords(["en", "es", "fr", "uk", "so"], FUZZY_MIN)


def test_two_everyday_words_differing_in_the_stem_are_two_words(everyday: EverydayWords
                                                                 ) -> None:
    assert everyday.two_words("eating", "hitting", ["en"])
    assert everyday.two_words("noticias", "policias", ["es"])
    assert everyday.two_words("perdu", "pendu", ["fr"])


def test_a_misspelling_is_no_everyday_word(everyday: EverydayWords) -> None:
    assert not everyday.two_words("hiting", "hitting", ["en"])
    assert not everyday.two_words("polisias", "policias", ["es"])


def test_words_that_differ_in_their_ending_are_one_word_inflected(everyday: EverydayWords
                                                                  ) -> None:
    assert not everyday.two_words("купив", "купити", ["uk"])  # bought / to buy


def test_only_the_languages_given_are_asked(everyday: EverydayWords) -> None:
    assert not everyday.two_words("noticias", "policias", ["en"])
    # no word list for Somali: its typo tolerance is unchanged
    assert not everyday.two_words("garaacay", "garaacey", ["so"])


def test_the_news_is_not_the_police(screener: Screener) -> None:
    assert "police" not in concepts_found(screener, "las noticias de hoy")
    assert "police" in concepts_found(screener, "las polisias vinieron a la casa")


def test_an_inflected_form_is_still_found_by_typo_tolerance(screener: Screener) -> None:
    text = "Я купив мотузку, завтра мене вже не буде"  # I bought a rope, tomorrow I'll be gone
    assert {"buy", "rope"} <= concepts_found(screener, text)
    assert screener.screen(text, "uk").severity == "urgent"


def test_an_everyday_latin_word_is_not_read_as_romanized_arabic_script(screener: Screener
                                                                      ) -> None:
    # Spanish "explica" (explains) had been read, by consonant skeleton, as a romanized
    # word for hope: "nobody explains anything to me" became "no hope"
    text = "ya van 9 dias en tapachula, nadie me explica nada"
    assert "hope" not in concepts_found(screener, text)


def test_a_romanized_word_is_still_read(screener: Screener) -> None:
    assert screener.screen("ana bade mout", "ar").severity == "urgent"  # I want to die
