"""Everyday words of each language, so that typo tolerance does not read one word as another.

Typo tolerance (one edit in words of 5-7 letters, two in longer ones) finds "hiting" for
"hitting", and it also found "eating" for "hitting", "perdu" (lost) for "pendu" (hanged),
"poison" for "prison" and "hombre" (man) for "hambre" (hunger). Those are two words, not a
typo, and round 11 of issue 11 excluded them one by one. This module makes the rule
general: when the message's word and the lexicon word closest to it are **both everyday
words of one language**, and they differ before the last two letters of the shorter one,
the message's word is taken as written. A difference in the ending alone is inflection,
which typo tolerance is also there to catch ("купив" for "купити", "убили" for "убил").

"Everyday" is wordfreq's small list for the language (words seen about once per million
words or more, from Wikipedia, subtitles, news, books and the web). wordfreq is no longer
updated (its data stops in 2021), which suits a list of everyday words; it has no list for
Pashto, Somali or Tigrinya, whose typo tolerance is unchanged.

The same lists keep an everyday word of a Latin-script language from being read as
romanized Arabic, Persian, Urdu, Pashto or Tigrinya by stem, typo or consonant skeleton:
Spanish "explica" had been read as a romanized word for hope. A romanized word the
lexicon lists as written is still found.

A list is kept as a sorted array of the words' 64-bit hashes (about 2 MB for nine
languages, against 39 MB as sets of strings). Building one takes 0.05-0.1 s, so the arrays
are cached on disk (``COUNSEL_BOT_CACHE_DIR``, else the user cache folder, e.g.
``~/.cache/counsel-bot``): the bot's step processes and every restart read them in about a
millisecond. The cache holds no personal data, only hashes of dictionary words; its file
names carry wordfreq's version and a digest of the normalization code, so a change to
either builds new ones. When the folder cannot be written the lists are built in memory and
a warning says so once.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import tempfile
from collections.abc import Iterable
from functools import cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
import platformdirs
from rapidfuzz.distance import Prefix

from counsel_bot.screening.normalize import fold, tokens_of

log = logging.getLogger(__name__)

WORDLIST = "small"
INFLECTION = 2
"""Two everyday words that differ only in their last this many letters are one word."""
CACHE_ENV = "COUNSEL_BOT_CACHE_DIR"


def word_hash(word: str) -> int:
    """A 64-bit hash that is the same in every process (``hash()`` is salted per process)."""
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or platformdirs.user_cache_path("counsel-bot"))


@cache
def _cache_version() -> str:
    """wordfreq's version and a digest of normalize.py (how words are folded): read once
    per process, not once per language."""
    source = Path(inspect.getfile(fold)).read_bytes()
    return f"wordfreq{version('wordfreq')}-{hashlib.blake2b(source, digest_size=6).hexdigest()}"


def _cache_name(language: str, min_length: int) -> str:
    return f"everyday-{language}-{WORDLIST}-{min_length}-{_cache_version()}.npy"


def _build(language: str, min_length: int) -> np.ndarray:
    import wordfreq  # only here: with the lists cached, a start never loads it (0.15 s)

    if language not in wordfreq.available_languages(WORDLIST):
        return np.empty(0, dtype=np.int64)
    # the undecorated function: wordfreq's own cache would keep the whole list in memory
    buckets = wordfreq.get_frequency_list.__wrapped__(language, WORDLIST)
    words = tokens_of(fold("\n".join(word for bucket in buckets for word in bucket)))
    return np.unique(np.fromiter((word_hash(w) for w in words if len(w) >= min_length),
                                 dtype=np.int64))


@cache
def everyday_hashes(language: str, min_length: int) -> np.ndarray:
    """The sorted hashes of the language's everyday words of ``min_length`` letters or more,
    folded as messages are (case, accents, letter variants); empty when wordfreq has no
    list for the language. Read from the disk cache, or built and written there."""
    path = cache_dir() / _cache_name(language, min_length)
    try:
        hashes = np.load(path, allow_pickle=False)
        if hashes.dtype == np.int64 and hashes.ndim == 1:
            return hashes
        log.warning("everyday words: %s is not a word list; building it again", path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("everyday words: cannot read %s (%s); building it again", path, exc)
    hashes = _build(language, min_length)
    _write(path, hashes)
    return hashes


def _write(path: Path, hashes: np.ndarray) -> None:
    """Write atomically (processes starting together may build the same list)."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            tmp = f.name
            np.save(f, hashes, allow_pickle=False)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if path.parent not in _warned:
            _warned.add(path.parent)
            log.warning("everyday words: cannot cache them in %s (%s); each start builds "
                        "them again (about 0.5 s); set %s to a writable folder",
                        path.parent, exc, CACHE_ENV)


_warned: set[Path] = set()


class EverydayWords:
    """Answers "are these two words both everyday words of one of these languages?"."""

    def __init__(self, languages: Iterable[str], min_length: int) -> None:
        self._lists = {lang: everyday_hashes(lang, min_length) for lang in languages}

    def _has(self, language: str, word: str) -> bool:
        hashes = self._lists.get(language)
        if hashes is None or not len(hashes):
            return False
        key = word_hash(word)
        at = int(np.searchsorted(hashes, key))
        return at < len(hashes) and int(hashes[at]) == key

    def is_everyday(self, token: str, languages: Iterable[str]) -> bool:
        """Whether ``token`` is an everyday word of one of ``languages``."""
        return any(self._has(lang, token) for lang in languages)

    def two_words(self, token: str, word: str, languages: Iterable[str]) -> bool:
        """True when ``token`` is not a misspelling of ``word``: both are everyday words of
        one of ``languages`` and they differ before their endings."""
        if Prefix.similarity(token, word) >= min(len(token), len(word)) - INFLECTION:
            return False
        return any(self._has(lang, token) and self._has(lang, word) for lang in languages)
