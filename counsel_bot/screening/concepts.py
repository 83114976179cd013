"""Concepts, not phrases: entries are sets of concepts that must meet within a clause.

Each language file (``locales/<lang>/distress.yaml``) lists the words of each concept in
that language (``concepts: {die: [die, dying, dead, death]}``); the shared rules file
(``locales/distress_rules.yaml``) says which sets of concepts are a signal, in any order
and with any words between them (``{concepts: [want, die], severity: urgent}``). Concept
names are shared by all languages, so a mixed-language clause ("I want to morir") is read
as one. A word is found in a message:

* as written (after normalization, see normalize.py), or as a stem ``kill*`` / suffix
  ``*نی`` when the author wrote one;
* through the language's Snowball stemmer (PyStemmer: ar, en, es, fa, fr, ru), so
  "hanged", "باليأس", "таблетки" meet "hang", "يأس", "таблетка";
* for Russian and Ukrainian, by dictionary form (pymorphy3, lemmas.py): "вмираю" meets
  "вмирати", "убьёт" meets "убить"; a form the dictionary knows is read by its lemma only,
  not by stem or as a typo of that language's words ("долго", long, is not "долга", of a
  debt);
* with one typo in words of 5-7 letters, two in longer ones (rapidfuzz Levenshtein), but
  not when the word and the one it is closest to are both everyday words of one language
  ("eating" is not "hitting"; everyday.py);
* in romanized writing: Arabizi, Finglish and Russian in Latin letters are transliterated
  into native script first (translit.py), and compared by consonant skeleton for Arabic
  script, where romanized vowels are unreliable.

Negation is read per clause: a negation word up to ``window`` words before the first
concept of a match, or among its words (or, for verb-final Persian, a ``neg_after`` word
just after it), lowers the signal one level for review, unless the entry is negative in
itself (one of its concepts is listed in ``negative_concepts``: "nous n'avons plus rien à
manger", "can't breathe"). Laughter markers anywhere in the message and trivial causes in
the clause ("this homework makes me want to die lol") set a signal aside for review.

Modifier words are scoped to a language (issue 11, round 2). Every word found keeps the
language(s) whose file listed it, and a match's languages are those of the words that met
its concepts. A negation, ``neg_after``, trivial-cause or laughter word then applies only
when one of its languages is one of the match's: Arabic "ما" (not) no longer lowers a
Pashto match ("ما" is "me" there), nor Russian/Ukrainian "ne" a Roman Urdu one ("seth ne
passport rakh liya", the ergative marker). Laughter written in Latin letters ("lol",
"haha") and laughter emoji count for every language. A mixed-language clause still works:
"I don't want to morir" has an English match word, so English "don't" applies. When the
match words are listed by several languages (a loanword such as "passport"), only those
the message is plausibly written in count: the languages with at least half the top
language's share of the message's concept words (modifier words left out).
Entry slots are scoped too (round 5): a slot filled by a function-like word
(``language_scoped`` in the rules: neg, lack, cannot, me, love, now...) counts only when
the word is in a language of the match's content words, a ``kin`` language of theirs
(en/fr/es: "I can't respirar"), or one the message is evidently written in (its content
words, or a romanized reading); see ``_scoped``.
Combinations raise: ``escalate`` turns a high signal urgent when a clause also holds, say,
``now`` or ``blood``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import Stemmer
import yaml
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from counsel_bot import yaml_text
from counsel_bot.screening.everyday import EverydayWords
from counsel_bot.screening.lemmas import DictionaryForms
from counsel_bot.screening.lexicon import CATEGORIES, LexiconError
from counsel_bot.screening.normalize import CLAUSE_BREAK, normalize
from counsel_bot.screening.translit import Transliterator, ethiopic_key, ethiopic_skeleton, skeleton

RULES_FILE = "distress_rules.yaml"
CONCEPT_SEVERITIES = ("urgent", "high", "check")
STEMMERS = {"ar": "arabic", "en": "english", "es": "spanish", "fa": "persian",
            "fr": "french", "ru": "russian"}
MIN_STEM = {"arabic": 3}  # shorter stems are too ambiguous to find words by
DEFAULT_MIN_STEM = 4
FUZZY_MIN = 5  # words shorter than this must be spelled right (or listed as written)
ETH_MIN_SKELETON = 3  # Ethiopic skeletons of fewer consonants are too ambiguous to match
DAMP_WINDOW = 4  # a trivial cause this many words from a match sets it aside
MAX_POSITIONS = 6  # per concept and clause, when looking for the tightest match
LAUGHTER_EMOJI = re.compile("[\U0001F602\U0001F923\U0001F606\U0001F605\U0001F639\U0001F604]")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def script_of(token: str) -> str:
    """latin, cyrillic or arabic (by the token's first letter)."""
    ch = token[0]
    if ch.isascii():
        return "latin"
    if "\u0400" <= ch <= "\u04ff":
        return "cyrillic"
    if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f" or "\ufb50" <= ch <= "\ufefc":
        return "arabic"
    if "\u0980" <= ch <= "\u09ff":
        return "bengali"
    if "\u1200" <= ch <= "\u139f":
        return "ethiopic"
    return "latin"


SCRIPTS = {"ar": "arabic", "fa": "arabic", "ru": "cyrillic", "en": "latin", "fr": "latin",
           "es": "latin", "ps": "arabic", "ur": "arabic", "uk": "cyrillic", "so": "latin",
           "ti": "ethiopic", "bn": "bengali"}


@dataclass(frozen=True)
class Rule:
    """One entry: every slot (a set of alternative concepts) must be found."""

    category: str
    severity: str
    slots: tuple[frozenset[str], ...]
    scope: str  # clause | message
    negatable: bool
    firm: bool  # a fact (an act, a means) that laughter does not set aside
    where: str
    probable_urgent: bool = False  # a "check" that may hide urgent danger
    # circumstances that set the signal aside for review (round 6): each alternative is a
    # set of concepts that must all be found, in the match's clause (``unless``: "how long
    # can detention last", a film about a death) or anywhere in the message
    # (``unless_message``: "goodbye everyone, see you after my trip")
    unless: tuple[frozenset[str], ...] = ()
    unless_message: tuple[frozenset[str], ...] = ()


@dataclass(frozen=True)
class Escalation:
    categories: frozenset[str]
    with_: frozenset[str]
    to: str
    scope: str


@dataclass(frozen=True)
class Rules:
    entries: tuple[Rule, ...]
    escalations: tuple[Escalation, ...]
    negative: frozenset[str]
    dampen_message: frozenset[str]
    dampen_clause: frozenset[str]
    window: int
    window_after: int
    semantic_cues: frozenset[str] = frozenset()
    # function-like concepts ("not", "no", "me", "love", "now"): a word filling one of
    # their slots counts only in a language of the match's content words (see find)
    scoped: frozenset[str] = frozenset()
    # languages people mix within one clause ("I can't respirar"): a word of one fills a
    # scoped slot of an entry whose content words are in another
    kin: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # concepts that void a message-wide excuse in the match's own clause: "at first I
    # told everyone I'm fine, but now I want to die" is not a past trouble now resolved
    present: frozenset[str] = frozenset()


@dataclass
class LanguageConcepts:
    """One language's words for each concept, and how to read romanized writing."""

    language: str
    words: dict[str, list[str]]
    translit: Transliterator | None = None


@dataclass(frozen=True)
class Findings:
    """What the concept layer found in one message."""

    hits: list[ConceptHit]
    laughing: bool  # a laughter marker anywhere in the message
    concepts: frozenset[str]  # every concept found, matched or not
    trivial: tuple[tuple[int, int], ...] = ()  # words naming a trivial cause (offsets)
    cue_at: int | None = None  # offset of the first semantic cue in the normalized text
    # scoping for the phrase layer: the languages of each trivial span, of the laughter
    # (None: Latin-letter laughter or an emoji, for every language) and the languages the
    # message is most plausibly written in (by its concept words, modifiers left out)
    trivial_languages: tuple[frozenset[str], ...] = ()
    laughter_languages: frozenset[str] | None = None
    languages: frozenset[str] = frozenset()

    def laughs_in(self, language: str) -> bool:
        """Whether the message's laughter applies to a match in ``language``."""
        return self.laughing and (self.laughter_languages is None
                                  or language in self.laughter_languages)


@dataclass(frozen=True)
class ConceptHit:
    rule: Rule
    start: int  # character offsets in the normalized text
    end: int
    negated: bool
    dampened: bool
    severity: str  # after escalation, before negation/dampening
    excused: bool = False  # set aside by the entry's ``unless``: so is a phrase hit on it


def _as_list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise LexiconError(f"{where}: expected a list")
    return value


def parse_language_concepts(data: Mapping[str, Any], language: str, path: Path
                            ) -> LanguageConcepts:
    """The ``concepts``, ``transliteration`` and ``romanized_markers`` of one file."""
    where = f"{path}: "
    raw = data.get("concepts") or {}
    if not isinstance(raw, dict):
        raise LexiconError(f"{where}concepts: a mapping of concept name to a list of words")
    words: dict[str, list[str]] = {}
    for name, items in raw.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise LexiconError(f"{where}concepts.{name}: a concept name is lower-case "
                               "letters, digits and _")
        lst = []
        for i, word in enumerate(_as_list(items, f"{where}concepts.{name}")):
            if not isinstance(word, str) or not word.strip("* "):
                raise LexiconError(f"{where}concepts.{name}[{i}]: a word must be a "
                                   f"non-empty string (quote it), got {word!r}")
            lst.append(word)
        words[name] = lst
    table = data.get("transliteration")
    translit = None
    if table is not None:
        if not isinstance(table, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in table.items()):
            raise LexiconError(f"{where}transliteration: a mapping of Latin letters to "
                               "native letters (quote both)")
        markers = [m for m in _as_list(data.get("romanized_markers"),
                                       f"{where}romanized_markers") if isinstance(m, str)]
        translit = Transliterator.build(language, table, markers)
    return LanguageConcepts(language, words, translit)


def load_rules(path: Path, known_concepts: Iterable[str]) -> Rules:
    """The shared rules file: entries, escalations, negative and damping concepts."""
    try:
        data = yaml_text.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise LexiconError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise LexiconError(f"{path}: the file must be a mapping")
    known = set(known_concepts)
    where = f"{path}: "

    def concepts(value: object, here: str) -> frozenset[str]:
        names = {n.strip() for n in str(value).split("|") if n.strip()}
        unknown = names - known
        if not names or unknown:
            raise LexiconError(f"{here}: unknown concept(s) {sorted(unknown) or value!r} "
                               "(define them under concepts: in the language files)")
        return frozenset(names)

    negative = frozenset().union(*(concepts(n, f"{where}negative_concepts")
                                   for n in _as_list(data.get("negative_concepts"), where)))
    dampen = data.get("dampen") or {}
    entries: list[Rule] = []
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, dict):
        raise LexiconError(f"{where}entries: a mapping of category to a list of entries")
    for category, items in raw_entries.items():
        if category not in CATEGORIES:
            raise LexiconError(f"{where}entries.{category}: unknown category")
        for i, item in enumerate(_as_list(items, f"{where}entries.{category}")):
            here = f"{where}entries.{category}[{i}]"
            if not isinstance(item, dict) or "concepts" not in item:
                raise LexiconError(f"{here}: an entry is {{concepts: [...], severity: ...}}")
            unknown_keys = set(item) - {"concepts", "severity", "within", "firm", "note",
                                        "negatable", "probable_urgent", "unless",
                                        "unless_message"}
            if unknown_keys:
                raise LexiconError(f"{here}: unknown key(s) {sorted(unknown_keys)}")
            severity = item.get("severity")
            if severity not in CONCEPT_SEVERITIES:
                raise LexiconError(f"{here}: severity must be one of {CONCEPT_SEVERITIES}")
            slots = tuple(concepts(s, here) for s in _as_list(item["concepts"], here))
            if not slots:
                raise LexiconError(f"{here}: no concepts")
            scope = item.get("within", "clause")
            if scope not in ("clause", "message"):
                raise LexiconError(f"{here}: within is clause or message")
            negatable = item.get("negatable")
            if negatable is None:
                negatable = not any(slot <= negative for slot in slots)
            entries.append(Rule(category, severity, slots, scope, bool(negatable),
                                bool(item.get("firm", False)),
                                f"{here} ({' + '.join('|'.join(sorted(s)) for s in slots)})",
                                bool(item.get("probable_urgent", False)),
                                *(tuple(frozenset().union(*(concepts(c, f"{here}.{key}")
                                                            for c in str(alt).split("+")))
                                        for alt in _as_list(item.get(key), f"{here}.{key}"))
                                  for key in ("unless", "unless_message"))))
    escalations = []
    for i, item in enumerate(_as_list(data.get("escalate"), f"{where}escalate")):
        here = f"{where}escalate[{i}]"
        cats = frozenset(_as_list(item.get("categories"), here))
        if not cats <= set(CATEGORIES) or item.get("to") not in ("urgent", "high"):
            raise LexiconError(f"{here}: categories must be known, to urgent or high")
        escalations.append(Escalation(cats, concepts("|".join(item.get("with", [])), here),
                                      item["to"], item.get("within", "clause")))
    negation = data.get("negation") or {}
    return Rules(
        tuple(entries), tuple(escalations), negative,
        frozenset().union(*(concepts(n, where) for n in dampen.get("message", []))),
        frozenset().union(*(concepts(n, where) for n in dampen.get("clause", []))),
        int(negation.get("window", 4)), int(negation.get("window_after", 2)),
        frozenset().union(*(concepts(n, where) for n in _as_list(data.get("semantic_cues"),
                                                                  where))),
        frozenset().union(*(concepts(n, f"{where}language_scoped")
                            for n in _as_list(data.get("language_scoped"), where))),
        _kin(_as_list(data.get("kin"), f"{where}kin"), f"{where}kin"),
        frozenset().union(*(concepts(n, f"{where}present")
                            for n in _as_list(data.get("present"), where))))


def _kin(groups: list[Any], where: str) -> dict[str, frozenset[str]]:
    """``kin: [[en, fr, es]]`` -> each language's kin (itself left out)."""
    kin: dict[str, set[str]] = {}
    for i, group in enumerate(groups):
        if not isinstance(group, list) or not all(isinstance(g, str) for g in group):
            raise LexiconError(f"{where}[{i}]: a list of language codes")
        for lang in group:
            kin.setdefault(lang, set()).update(set(group) - {lang})
    return {lang: frozenset(ls) for lang, ls in kin.items()}


Tagged = tuple[str, str]  # (concept, language whose file lists the word)


@dataclass
class _Index:
    exact: dict[str, set[Tagged]] = field(default_factory=dict)
    prefixes: dict[str, list[tuple[str, Tagged]]] = field(default_factory=dict)  # 2 letters
    suffixes: list[tuple[str, Tagged]] = field(default_factory=list)
    phrases: dict[str, list[tuple[tuple[str, ...], Tagged]]] = field(default_factory=dict)
    stems: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # lang -> stem
    skeletons: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # lang -> skel
    fuzzy: dict[str, dict[int, list[str]]] = field(default_factory=dict)  # script -> len
    fuzzy_concepts: dict[str, set[Tagged]] = field(default_factory=dict)
    romanized: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # lang -> word
    # Ethiopic consonant skeletons (lang -> skeleton -> concepts), and of word* / *word
    eth: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    eth_affixes: list[tuple[str, bool, Tagged]] = field(default_factory=list)  # (skel, prefix)
    eth_keys: dict[str, set[Tagged]] = field(default_factory=dict)  # Ge'ez, last vowel dropped
    # "!word": this form is NOT the concept, however else it would be found (a stem, a
    # prefix such as Persian "نمی*", a typo): "نمیدونم" (I don't know) is no negation
    excluded: dict[str, set[Tagged]] = field(default_factory=dict)


class ConceptMatcher:
    """Finds concept entries in normalized text; build once, thread-safe after."""

    def __init__(self, languages: Sequence[LanguageConcepts], rules: Rules,
                 breaks: Iterable[str] = ()) -> None:
        self.rules = rules
        self.breaks = frozenset(breaks)  # words that end a clause ("but", "mais", "но")
        self.languages = {lc.language: lc for lc in languages}
        self._stemmers = {lang: Stemmer.Stemmer(STEMMERS[lang])
                          for lang in self.languages if lang in STEMMERS}
        self._translit = [lc.translit for lc in languages if lc.translit is not None]
        self._everyday = EverydayWords(self.languages, FUZZY_MIN)
        self._forms = DictionaryForms(tuple(self.languages))
        self._by_script: dict[str, tuple[str, ...]] = {}
        for lang in self.languages:
            script = SCRIPTS.get(lang, "latin")
            self._by_script[script] = (*self._by_script.get(script, ()), lang)
        self._index = _Index()
        for lc in languages:
            for concept, words in lc.words.items():
                for word in words:
                    self._add(lc.language, concept, word)
        self._by_concept: dict[str, list[Rule]] = {}
        for rule in rules.entries:  # each rule under the concepts of its first slot
            for concept in rule.slots[0]:
                self._by_concept.setdefault(concept, []).append(rule)
        self._lookup = lru_cache(maxsize=200_000)(self._lookup_uncached)
        self._lookup_translit = lru_cache(maxsize=100_000)(self._translit_uncached)

    # -- building ------------------------------------------------------------------------
    def _add(self, lang: str, concept: str, word: str) -> None:
        ix = self._index
        if word.startswith("!"):  # "!نمیدونم": not this form (round 7)
            for token in normalize(word[1:].strip()).replace(CLAUSE_BREAK, " ").split()[:1]:
                ix.excluded.setdefault(token, set()).add((concept, lang))
            return
        as_written = word.startswith("=")  # "=partir": this form only, no stem, no typo
        word = word.lstrip("=")
        prefix, suffix = word.rstrip().endswith("*"), word.lstrip().startswith("*")
        tokens = normalize(word.strip().strip("*")).replace(CLAUSE_BREAK, " ").split()
        if not tokens:
            return
        if len(tokens) > 1:
            ix.phrases.setdefault(tokens[0], []).append((tuple(tokens[1:]), (concept, lang)))
            return
        token = tokens[0]
        if SCRIPTS.get(lang) == "ethiopic" and not as_written:
            self._add_ethiopic(lang, concept, token, prefix, suffix)
        if SCRIPTS.get(lang, "latin") != "latin" and token.isascii():
            # a romanized word ("mout", "mikham"): only in a message written that way
            if not prefix and not suffix:
                ix.romanized.setdefault(lang, {}).setdefault(token, set()).add(concept)
            return
        if prefix:
            ix.prefixes.setdefault(token[:2], []).append((token, (concept, lang)))
            return
        if suffix:
            ix.suffixes.append((token, (concept, lang)))
            return
        ix.exact.setdefault(token, set()).add((concept, lang))
        if as_written:
            return
        self._forms.add(lang, token, concept)
        stemmer = self._stemmers.get(lang)
        if stemmer is not None:
            stem = stemmer.stemWord(token)
            if len(stem) >= MIN_STEM.get(STEMMERS[lang], DEFAULT_MIN_STEM):
                ix.stems.setdefault(lang, {}).setdefault(stem, set()).add(concept)
        if SCRIPTS.get(lang) == "arabic":
            skel = skeleton(token)
            if len(skel) >= 3:
                ix.skeletons.setdefault(lang, {}).setdefault(skel, set()).add(concept)
        if len(token) >= FUZZY_MIN:
            ix.fuzzy.setdefault(script_of(token), {}).setdefault(len(token), []).append(token)
            ix.fuzzy_concepts.setdefault(token, set()).update(ix.exact[token])

    def _add_ethiopic(self, lang: str, concept: str, token: str, prefix: bool,
                      suffix: bool) -> None:
        """Index an Ethiopic-script language's word (Ge'ez, or Latin through the
        language's table) by consonant skeleton: romanized vowels are unreliable, and
        Ge'ez inflects by vowel order (ሞይቱ, ሞይታ, ሞይተ). Negation and damping words
        (a trivial cause, laughter) are not: they must be written as listed."""
        if concept in self._modifiers():
            return
        lc = self.languages[lang]
        if not token.isascii() and not prefix and not suffix and len(token) >= 3:
            self._index.eth_keys.setdefault(ethiopic_key(token), set()).add((concept, lang))
        if token.isascii():
            if lc.translit is None:
                return
            token = lc.translit.word(token)
        skel = ethiopic_skeleton(token)
        if len(skel) < ETH_MIN_SKELETON:
            return
        if prefix or suffix:
            self._index.eth_affixes.append((skel, prefix, (concept, lang)))
        else:
            self._index.eth.setdefault(lang, {}).setdefault(skel, set()).add(concept)

    def _ethiopic(self, native: str, lang: str) -> set[Tagged]:
        """The concepts of ``lang`` whose Ethiopic skeleton is that of ``native``, or
        that begin (``word*``) or end (``*word``) it, on a strictly longer word."""
        skel = ethiopic_skeleton(native)
        if len(skel) < ETH_MIN_SKELETON:
            return set()
        found = {(c, lang) for c in self._index.eth.get(lang, {}).get(skel, ())}
        for affix, prefix, tagged in self._index.eth_affixes:
            if tagged[1] == lang and len(skel) > len(affix) and (
                    skel.startswith(affix) if prefix else skel.endswith(affix)):
                found.add(tagged)
        return found

    # -- looking words up ----------------------------------------------------------------
    def _lookup_uncached(self, token: str, fuzzy: bool = True) -> frozenset[Tagged]:
        ix = self._index
        found = set(ix.exact.get(token, ()))
        for prefix, concept in ix.prefixes.get(token[:2], ()):
            if token.startswith(prefix):
                found.add(concept)
        for suffix, concept in ix.suffixes:
            if token.endswith(suffix) and len(token) > len(suffix) + 1:
                found.add(concept)
        script = script_of(token)
        known: set[str] = set()  # languages whose dictionary knows the word: its lemma decides
        if script == self._forms.script:
            by_lemma, known = self._forms.find(token)
            found |= by_lemma
        for lang, stemmer in self._stemmers.items():
            if SCRIPTS.get(lang) != script or lang not in ix.stems or lang in known:
                continue
            stem = stemmer.stemWord(token)
            if len(stem) >= MIN_STEM.get(STEMMERS[lang], DEFAULT_MIN_STEM):
                found.update((c, lang) for c in ix.stems[lang].get(stem, ()))
        if not found and script == "ethiopic" and len(token) >= 3:  # ሞይታ for ሞይቱ
            found.update(ix.eth_keys.get(ethiopic_key(token), ()))
        if fuzzy and not found and len(token) >= FUZZY_MIN and not token.isdigit():
            # a form the language's dictionary knows is that word, not a typo of another
            found.update(t for t in self._fuzzy(token, script) if t[1] not in known)
        return frozenset(found - ix.excluded.get(token, set()))

    def _fuzzy(self, token: str, script: str) -> set[Tagged]:
        by_len = self._index.fuzzy.get(script)
        if not by_len:
            return set()
        limit = 1 if len(token) < 8 else 2
        choices = [w for n in range(len(token) - limit, len(token) + limit + 1)
                   for w in by_len.get(n, ())]
        if not choices:
            return set()
        best = process.extractOne(token, choices, scorer=Levenshtein.distance,
                                  score_cutoff=limit)
        if not best:
            return set()
        if self._everyday.two_words(token, best[0], self._by_script.get(script, ())):
            # "eating" is not a typo of "hitting"
            return set()
        return set(self._index.fuzzy_concepts[best[0]])

    def _translit_uncached(self, token: str, lang: str, fuzzy: bool = True
                           ) -> tuple[str, frozenset[Tagged]]:
        lc = self.languages[lang]
        assert lc.translit is not None
        native = lc.translit.word(token)
        found = {(c, lang) for c in self._index.romanized.get(lang, {}).get(token, ())}
        if not native:
            return "", frozenset(found)
        found.update(self._index.exact.get(native, ()))
        if not self._everyday.is_everyday(token, self._by_script.get("latin", ())):
            # an everyday word of a Latin-script language ("explica", "please") is read
            # only as written, as another lexicon's words are: not by stem, typo or skeleton
            found |= self._read_loosely(token, native, lang, fuzzy)
        return native, frozenset(found - self._index.excluded.get(token, set()))

    def _read_loosely(self, token: str, native: str, lang: str, fuzzy: bool) -> set[Tagged]:
        """A romanized word's concepts found by stem, typo or consonant skeleton."""
        # stems and typos on the reading only among the language's own words; another
        # language's words count only as written: "le llamo manana", read as romanized
        # Pashto for its marker "manana", made "llamo" "للامو", whose Arabic stem is "die"
        found = {t for t in self._lookup(native, fuzzy) if t[1] == lang}
        if SCRIPTS.get(lang) == "arabic":
            skel = skeleton(native)
            table = self._index.skeletons.get(lang, {})
            if len(skel) >= 3:
                found.update((c, lang) for c in table.get(skel, ()))
        elif SCRIPTS.get(lang) == "ethiopic" and fuzzy and not self._lookup(token, False):
            # by consonant skeleton, like a typo: not as evidence that a message is
            # romanized Tigrinya ("please delay" would be police + want), and not for a
            # word of a Latin-script lexicon as written ("pills" is not ፖሊስ)
            found |= self._ethiopic(native, lang)
        return found

    # -- matching ------------------------------------------------------------------------
    def clause_concepts(self, tokens: Sequence[str], translit: Sequence[str]
                        ) -> list[set[str]]:
        """The concepts found at each token of one clause."""
        return [{c for c, _ in tagged} for tagged in self._clause(tokens, translit)]

    def _clause(self, tokens: Sequence[str], translit: Sequence[str]) -> list[set[Tagged]]:
        """The (concept, language) pairs found at each token of one clause."""
        ix = self._index
        at: list[set[Tagged]] = [set(self._lookup(t)) for t in tokens]
        sequences = [list(tokens)]
        for lang in translit:
            native = list(tokens)
            for i, t in enumerate(tokens):
                if t.isascii() and t.isalnum() and len(t) >= 2:
                    word, found = self._lookup_translit(t, lang)
                    native[i] = word or t
                    at[i] |= found
            sequences.append(native)
        for seq in sequences:
            for i, t in enumerate(seq):
                for rest, tagged in ix.phrases.get(t, ()):
                    if tuple(seq[i + 1:i + 1 + len(rest)]) == rest:
                        for j in range(i, min(len(seq), i + 1 + len(rest))):
                            at[j].add(tagged)
        return at

    def _modifiers(self) -> frozenset[str]:
        return (frozenset({"neg", "neg_after"}) | self.rules.dampen_message
                | self.rules.dampen_clause)

    def find(self, norm: str, raw: str = "") -> Findings:
        """Every entry met in the normalized text, and whether the message laughs
        (``raw``, the text before normalization, for laughter emoji)."""
        rules = self.rules
        clauses: list[tuple[int, list[str], list[int]]] = []
        pos = 0
        for clause in norm.split(CLAUSE_BREAK):
            tokens, offsets, off = [], [], pos
            for t in clause.split(" ") if clause else []:
                if t in self.breaks and tokens:
                    clauses.append((offsets[0], tokens, offsets))
                    tokens, offsets = [], []
                tokens.append(t)
                offsets.append(off)
                off += len(t) + 1
            clauses.append((pos, tokens, offsets))
            pos += len(clause) + 1
        latin = [t for _, tokens, _ in clauses for t in tokens
                 if (t.isascii() and t.isalpha()) or (t.isalnum() and not t.isdigit())]
        translit = [tr.language for tr in self._translit if latin and self._romanized(tr, latin)]
        found: list[tuple[list[str], list[int], list[set[str]], list[dict[str, set[str]]]]] = []
        message: dict[str, int] = {}
        modifiers = self._modifiers()
        votes: dict[str, float] = {}
        evidence: dict[str, float] = {}  # the same, function-like (scoped) words left out
        message_langs: dict[str, set[str]] = {}  # concept -> languages, whole message
        laugh_langs: set[str] | None = set()
        for _, tokens, offsets in clauses:
            if not tokens:
                continue
            tagged = self._clause(tokens, translit)
            at: list[set[str]] = []
            langs: list[dict[str, set[str]]] = []
            for i, pairs in enumerate(tagged):
                by_concept: dict[str, set[str]] = {}
                for c, lang in pairs:
                    by_concept.setdefault(c, set()).add(lang)
                at.append(set(by_concept))
                langs.append(by_concept)
                content = {lang for c, lang in pairs if c not in modifiers}
                for lang in content:
                    votes[lang] = votes.get(lang, 0.0) + 1 / len(content)
                strong = {lang for c, lang in pairs if c not in modifiers | rules.scoped}
                for lang in strong:
                    evidence[lang] = evidence.get(lang, 0.0) + 1 / len(strong)
                for c, lang in pairs:
                    message_langs.setdefault(c, set()).add(lang)
                for c in rules.dampen_message & by_concept.keys():
                    if tokens[i].isascii():
                        laugh_langs = None  # "lol", "haha": laughter in any language
                    elif laugh_langs is not None:
                        laugh_langs |= by_concept[c]
                for c in by_concept:
                    message.setdefault(c, offsets[i])
            found.append((tokens, offsets, at, langs))
        emoji = bool(raw and LAUGHTER_EMOJI.search(raw))
        laughing = bool(rules.dampen_message & message.keys()) or emoji
        if emoji:
            laugh_langs = None
        top = max(votes.values(), default=0.0)
        plausible = frozenset(lang for lang, v in votes.items() if v >= top / 2)
        top = max(evidence.values(), default=0.0)
        # languages the message is evidently written in: by its content words, or read
        # as romanized (a marker, Arabizi digits: "ma 3andi", "mujhe")
        evident = frozenset(lang for lang, v in evidence.items() if v >= top / 2) | set(translit)
        hits: list[ConceptHit] = []
        trivial_spans: list[tuple[int, int]] = []
        trivial_langs: list[frozenset[str]] = []
        for tokens, offsets, at, langs in found:
            where: dict[str, list[int]] = {}
            for i, cs in enumerate(at):
                for c in cs:
                    where.setdefault(c, []).append(i)
            damping = sorted((i, frozenset().union(*(langs[i].get(c, ()) for c in
                                                     rules.dampen_clause)))
                             for i in {i for c in rules.dampen_clause for i in where.get(c, ())})
            trivial_spans.extend((offsets[i], offsets[i] + len(tokens[i])) for i, _ in damping)
            trivial_langs.extend(ls for _, ls in damping)
            keys = where.keys() | message.keys()
            candidates = {id(r): r for c in keys for r in self._by_concept.get(c, ())}
            for rule in candidates.values():
                if rule.scope == "clause" and not all(slot & where.keys()
                                                      for slot in rule.slots):
                    continue
                def fits(combo: Sequence[int | None], rule: Rule = rule,
                         at: list[set[str]] = at,
                         langs: list[dict[str, set[str]]] = langs) -> bool:
                    return self._scoped(rule, combo, at, langs, message_langs, plausible,
                                        evident) is not None
                placed = _closest(rule, where, message, fits if rules.scoped else None)
                if placed is None:
                    continue
                chosen = [i for i in placed if i is not None]
                lo, hi = min(chosen), max(chosen)
                severity = self._escalated(rule, where, message)
                own = frozenset().union(*rule.slots)
                allowed = (self._scoped(rule, placed, at, langs, message_langs, plausible,
                                        evident) if rules.scoped else None)
                match_langs = frozenset(lang for i in chosen for c in at[i] & own
                                        for lang in langs[i][c]
                                        if allowed is None or c not in rules.scoped
                                        or lang in allowed)
                # a loanword ("passport") is listed by many languages: keep those the
                # message is plausibly in, when there are any
                match_langs = (match_langs & plausible) or match_langs
                # words carrying one of the rule's own concepts are part of the match
                # ("koi umeed nahi" is one hopeless phrase): their negation is its own
                reach = range(max(0, lo - self.rules.window),
                              min(len(at), hi + 1 + self.rules.window_after))
                mine = set(chosen) | {i for i in reach if at[i] & own - {"neg", "neg_after"}}
                # round 9: a negation of the match's content language is not "its own"
                # merely because another language reads the same word as a function-like
                # slot (Somali "na", us, next to Bengali / Pashto "na", not)
                content = {lang for i in chosen for c in at[i] & own - rules.scoped
                           for lang in langs[i][c]}
                mine = {i for i in mine if not _foreign_slot(at[i], langs[i], own,
                                                             rules.scoped, content)}
                negated = rule.negatable and self._negated(at, langs, lo, hi, mine,
                                                           match_langs)
                near = any(lo - DAMP_WINDOW <= i <= hi + DAMP_WINDOW and ls & match_langs
                           for i, ls in damping)
                laughs = laughing and (laugh_langs is None or bool(laugh_langs & match_langs))
                damp = (laughs or near) and not rule.firm
                # the entry's own circumstances ("unless"), in a language of the match or
                # of the message
                known = match_langs | evident
                clause_langs: dict[str, set[str]] = {}
                for by in langs:
                    for c, ls in by.items():
                        clause_langs.setdefault(c, set()).update(ls)
                excused = any(all(clause_langs.get(c, set()) & known for c in alt)
                              for alt in rule.unless) or (any(
                    all(message_langs.get(c, set()) & known for c in alt)
                    for alt in rule.unless_message) and not any(
                    clause_langs.get(c, set()) & known for c in rules.present))
                hits.append(ConceptHit(rule, offsets[lo], offsets[hi] + len(tokens[hi]),
                                       negated, damp or excused, severity, excused))
        cues = [message[c] for c in rules.semantic_cues if c in message]
        return Findings(hits, laughing, frozenset(message), tuple(trivial_spans),
                        min(cues) if cues else None, tuple(trivial_langs),
                        None if laugh_langs is None else frozenset(laugh_langs), plausible)

    def _romanized(self, tr: Transliterator, latin: Sequence[str]) -> bool:
        """A message is read as romanized ``tr.language`` when it holds one of its
        markers, or when two of its Latin words are concept words once transliterated and
        the message's Latin words are not already concept words as written.

        Without a marker the evidence must be the language's own content words, met
        without typo tolerance: a negation or laughter word, a word of another language
        sharing the script ("lost" -> Arabic "لست"), or a near miss of a guessed spelling
        ("mayor" -> "مایور" ~ Urdu "مایوس") does not switch an English or Spanish message
        to a romanized reading ("I lost my residence card": "card" -> Persian "کارد")."""
        if tr.applies(latin):
            return True
        words = set(latin)
        if len(words) < 2 or sum(bool(self._lookup(t)) for t in words) >= 2:
            return False
        modifiers = self._modifiers()
        own = 0
        for t in words:
            found = self._lookup_translit(t, tr.language, False)[1]
            own += any(lang == tr.language and c not in modifiers for c, lang in found)
        return own >= 2

    def _scoped(self, rule: Rule, placed: Sequence[int | None], at: Sequence[set[str]],
                langs: Sequence[Mapping[str, set[str]]], message_langs: Mapping[str, set[str]],
                plausible: frozenset[str], evident: frozenset[str]) -> frozenset[str] | None:
        """The languages a match's function-like words may be in, or None when one of its
        slots is filled only by such a word of another language.

        A slot met by a ``language_scoped`` concept alone ("not", "no", "me", "love",
        "now") counts only when the word is in a language of the match's content words
        (the other slots), or in one the message is evidently written in (``evident``):
        Arabic "مو" (not) no longer fills the ``lack`` slot next to Pashto "ډوډۍ" (bread),
        nor Russian "люблю" the ``love`` slot of a Ukrainian farewell. ``placed`` holds a
        token position per slot, None for a slot met in another clause (``within:
        message``: its words anywhere in the message count)."""
        scoped = self.rules.scoped
        content: set[str] = set()
        bound: list[set[str]] = []
        for slot, i in zip(rule.slots, placed, strict=True):
            if i is None:
                cs, of = slot & message_langs.keys(), message_langs
            else:
                cs, of = slot & at[i], langs[i]
            words = cs - scoped
            if words:
                content.update(lang for c in words for lang in of[c])
            else:
                bound.append({lang for c in cs for lang in of[c]})
        content = (content & plausible) or content
        if not content:  # only function-like words: nothing to scope them by
            return frozenset().union(*bound)
        allowed = (content | evident).union(*(self.rules.kin.get(lang, ()) for lang in content))
        if any(not ls & allowed for ls in bound):
            return None
        return frozenset(allowed)

    def _escalated(self, rule: Rule, first: Mapping[str, object],
                   message: Mapping[str, int]) -> str:
        severity = rule.severity
        for esc in self.rules.escalations:
            if rule.category in esc.categories and severity != "urgent":
                scope = message if esc.scope == "message" else first
                if esc.with_ & scope.keys():
                    severity = esc.to
        return severity

    def _negated(self, at: Sequence[set[str]], langs: Sequence[Mapping[str, set[str]]],
                 lo: int, hi: int, own: set[int], match_langs: frozenset[str]) -> bool:
        """A negation word of one of the match's languages (``match_langs``) within the
        window: a word that is a negation only in another language does not count."""
        window, after = self.rules.window, self.rules.window_after
        for i in range(max(0, lo - window), hi + 1):
            if i not in own and "neg" in at[i] and langs[i]["neg"] & match_langs:
                return True
        return any(i not in own and "neg_after" in at[i] and langs[i]["neg_after"] & match_langs
                   for i in range(hi + 1, min(len(at), hi + 1 + after)))



def _foreign_slot(at: set[str], langs: Mapping[str, set[str]], own: frozenset[str],
                  scoped: frozenset[str], content: set[str]) -> bool:
    """Whether a word is a negation in one of the match's content languages and carries
    the match's own concepts only as function-like (scoped) words of other languages."""
    if not any(langs.get(n, set()) & content for n in ("neg", "neg_after")):
        return False
    slots = at & own - {"neg", "neg_after"}
    return bool(slots) and all(c in scoped and not langs[c] & content for c in slots)


def _closest(rule: Rule, where: Mapping[str, list[int]], message: Mapping[str, int],
             fits: Callable[[Sequence[int | None]], bool] | None = None
             ) -> list[int | None] | None:
    """A token position per slot (None: a ``within: message`` slot met in another
    clause), spanning as few words as possible and accepted by ``fits``; None when a slot
    is missing or no combination fits."""
    options: list[list[int | None]] = []
    for slot in rule.slots:
        positions = sorted({i for c in slot for i in where.get(c, ())[:MAX_POSITIONS]})
        if positions:
            options.append(list(positions))
        elif rule.scope == "message" and slot & message.keys():
            options.append([None])
        else:
            return None
    best: list[int | None] | None = None
    best_span = 0
    for combo in itertools.product(*options):
        placed = [i for i in combo if i is not None]
        if not placed:
            return None
        span = max(placed) - min(placed)
        if best is not None and span >= best_span:
            continue
        if fits is not None and not fits(combo):
            continue
        best, best_span = list(combo), span
    return best
