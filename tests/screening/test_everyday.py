"""Typo tolerance does not read one everyday word as another (screening/everyday.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from counsel_bot.screening import Screener, everyday
from counsel_bot.screening.concepts import FUZZY_MIN
from counsel_bot.screening.everyday import EverydayWords, everyday_hashes, word_hash


def concepts_found(screener: Screener, text: str) -> set[str]:
    line = next(x for x in screener.explain(text) if x.startswith("concepts found:"))
    return {c.strip() for c in line.split(":", 1)[1].split(",") if c.strip()}


@pytest.fixture(scope="module")
def words() -> EverydayWords:
    return EverydayWords(["en", "es", "fr", "uk", "so"], FUZZY_MIN)


def test_two_everyday_words_differing_in_the_stem_are_two_words(words: EverydayWords) -> None:
    assert words.two_words("eating", "hitting", ["en"])
    assert words.two_words("noticias", "policias", ["es"])
    assert words.two_words("perdu", "pendu", ["fr"])


def test_a_misspelling_is_no_everyday_word(words: EverydayWords) -> None:
    assert not words.two_words("hiting", "hitting", ["en"])
    assert not words.two_words("polisias", "policias", ["es"])


def test_words_that_differ_in_their_ending_are_one_word_inflected(words: EverydayWords) -> None:
    assert not words.two_words("купив", "купити", ["uk"])  # bought / to buy


def test_only_the_languages_given_are_asked(words: EverydayWords) -> None:
    assert not words.two_words("noticias", "policias", ["en"])
    # no word list for Somali: its typo tolerance is unchanged
    assert not words.two_words("garaacay", "garaacey", ["so"])


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


@pytest.fixture
def cache_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh disk cache and an empty in-process one; emptied again afterwards."""
    def use(folder: Path) -> Path:
        monkeypatch.setenv(everyday.CACHE_ENV, str(folder))
        everyday_hashes.cache_clear()
        return folder
    yield use
    everyday_hashes.cache_clear()


def test_the_lists_are_cached_on_disk_and_read_back(cache_in, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    folder = cache_in(tmp_path / "cache")
    built = everyday_hashes("en", FUZZY_MIN)
    assert len(built) > 10_000 and [p.suffix for p in folder.iterdir()] == [".npy"]
    everyday_hashes.cache_clear()

    def no_building(*args: object) -> np.ndarray:
        raise AssertionError("built again although cached")

    monkeypatch.setattr(everyday, "_build", no_building)
    assert np.array_equal(everyday_hashes("en", FUZZY_MIN), built)


def test_a_damaged_cache_file_is_built_again(cache_in, tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    folder = cache_in(tmp_path / "cache")
    good = everyday_hashes("fr", FUZZY_MIN)
    (path,) = folder.iterdir()
    path.write_bytes(b"not a numpy file")
    everyday_hashes.cache_clear()
    with caplog.at_level(logging.WARNING, logger="counsel_bot.screening.everyday"):
        assert np.array_equal(everyday_hashes("fr", FUZZY_MIN), good)
    assert "building it again" in caplog.text
    assert np.array_equal(np.load(path), good)


def test_an_unwritable_cache_folder_is_said_once_and_the_lists_still_work(
        cache_in, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "a_file").write_text("x")
    cache_in(tmp_path / "a_file" / "cache")  # cannot be created: its parent is a file
    with caplog.at_level(logging.WARNING, logger="counsel_bot.screening.everyday"):
        words = EverydayWords(["en", "es"], FUZZY_MIN)
    assert words.two_words("eating", "hitting", ["en"])
    assert caplog.text.count("cannot cache them") == 1


def test_word_hashes_are_the_same_in_every_process() -> None:
    """The cache is shared by processes, whose built-in hash() differs."""
    code = "from counsel_bot.screening.everyday import word_hash; print(word_hash('policias'))"
    seen = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
            for seed in ("1", "2")}
    assert seen == {str(word_hash("policias"))}
