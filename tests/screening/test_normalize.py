"""Normalization: one test per variant rule."""

from __future__ import annotations

import pytest

from counsel_bot.screening.normalize import MAX_CHARS, MAX_TOKEN, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I WANT To Die", "i want to die"),  # case folding
        ("Straße", "strasse"),  # full case folding
        ("Je suis désespérée, à bout", "je suis desesperee\na bout"),  # accents, comma = clause
        ("ÉCOLE Ñandú çà", "ecole nandu ca"),
        ("cœur", "coeur"),
        ("Ёлка, всё", "елка\nвсе"),  # ё -> е
        ("мой йогурт", "мой йогурт"),  # й is kept (not и)
    ],
)
def test_latin_and_cyrillic(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        (["أموت", "إموت", "آموت", "ٱموت", "اموت"], "اموت"),  # alef forms
        (["علي", "على", "علی"], "علی"),  # yeh / alef maksura / Persian yeh
        (["مدرسة", "مدرسه"], "مدرسه"),  # teh marbuta -> heh
        (["كتاب", "کتاب"], "کتاب"),  # Arabic / Persian kaf
        (["مُدَرِّسَةٌ", "مدرسة"], "مدرسه"),  # harakat and shadda removed
        (["مـــرحـبـا", "مرحبا"], "مرحبا"),  # tatweel removed
        (["الإسعافُ", "الاسعاف"], "الاسعاف"),
        (["سؤال", "سوال"], "سوال"),  # hamza on waw
        (["هٰذا", "هذا"], "هذا"),  # superscript alef removed
    ],
)
def test_arabic_letter_variants(variants: list[str], expected: str) -> None:
    assert {normalize(v) for v in variants} == {expected}


def test_persian_letters_kept() -> None:
    assert normalize("گچپژ") == "گچپژ"


@pytest.mark.parametrize("raw", ["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "0123456789"])
def test_digits(raw: str) -> None:
    assert normalize(raw) == "0123456789"


@pytest.mark.parametrize("raw", ["می‌خواهم", "میخواهم", "می خواهم", "مي خواهم", "مى‌خواهم"])
def test_zwnj_and_separate_prefix_give_one_word(raw: str) -> None:
    assert normalize(raw) == "میخواهم"


def test_zwnj_inside_word_and_negative_prefix() -> None:
    assert normalize("نمی‌توانم") == normalize("نمیتوانم") == normalize("نمی توانم")
    assert normalize("خسته‌ام") == "خستهام"
    assert normalize("بی خانمان") == normalize("بی‌خانمان") == "بیخانمان"


def test_pashto_enclitic_me_is_not_the_persian_prefix() -> None:
    # Pashto "مې" (my, me) stays a word of its own; Persian "می" is joined as before.
    assert normalize("مور مې بې هوښه ده").split()[:2] == ["مور", "میی"]
    assert normalize("ما مې وهي") == "ما میی وهی"
    assert normalize("می خواهم") == "میخواهم"


def test_arabic_and_attached_to_a_negation_is_split() -> None:
    assert normalize("وما عم يتجاوب") == "و ما عم یتجاوب"
    assert normalize("وماذا") == "وماذا"


def test_other_invisible_characters_removed() -> None:
    assert normalize("\u200fhel\u00adlo\u200d \ufeffworld") == "hello world"


def test_separators_and_clause_breaks() -> None:
    assert normalize("don't  self-harm!!  OK?? yes… no؛ لا، نعم") == (
        "don t self harm\nok\nyes\nno\nلا\nنعم"
    )
    assert normalize("  \n\n ") == ""
    assert normalize("a_b") == "a b"


def test_modifier_letter_apostrophe_separates_words_like_the_apostrophe() -> None:
    # Ukrainian phone keyboards write U+02BC, a letter to \w: "вбʼє" was one word, the
    # lexicon's "вб'є" two (round 9)
    assert normalize("він вб\u02bcє мене, сімʼя") == normalize("він вб'є мене, сім'я") == (
        "він вб є мене\nсім я"
    )


def test_arabizi_digits_are_part_of_words() -> None:
    assert normalize("Ana TA3BAN, 7ayati") == "ana ta3ban\n7ayati"


def test_length_limits() -> None:
    assert len(normalize("a " * MAX_CHARS)) < MAX_CHARS
    assert normalize("x" * (MAX_TOKEN + 10)) == "x" * MAX_TOKEN


def test_bengali_vowel_signs_stay_part_of_the_word() -> None:
    """Dropping them made "মরতে" (to die) and "মারতে" (to hit) one word, and split "চাই"."""
    from counsel_bot.screening.normalize import normalize

    assert normalize("আমি মরতে চাই, আত্মহত্যা") == "আমি মরতে চাই\nআত্মহত্যা"
    assert normalize("মরতে") != normalize("মারতে")


def test_ethiopic_and_bengali_sentence_marks_end_a_clause() -> None:
    from counsel_bot.screening.normalize import CLAUSE_BREAK, normalize

    assert normalize("ሞት። ሓገዝ") == f"ሞት{CLAUSE_BREAK}ሓገዝ"
    assert normalize("ሰላም፡ኣሎ") == "ሰላም ኣሎ"  # the wordspace separates words
    assert normalize("না। হ্যাঁ") == f"না{CLAUSE_BREAK}হ্যাঁ"
