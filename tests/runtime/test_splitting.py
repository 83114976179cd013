"""Texts longer than Telegram's 4,096 characters are split at natural boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

from counsel_bot.engine.effects import Button, Send
from counsel_bot.store import MemoryStore
from counsel_bot.telegram.chats import to_messages
from counsel_bot.telegram.splitting import TELEGRAM_LIMIT, split_text, utf16_length


def test_short_text_is_one_part():
    assert split_text("hello") == ["hello"]


def test_paragraphs_are_kept_whole():
    paragraphs = [f"Paragraph {i}. " + "word " * 150 for i in range(12)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(utf16_length(p) <= TELEGRAM_LIMIT for p in parts)
    assert all(p.startswith("Paragraph") for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


def test_emoji_count_twice_as_telegram_does():
    text = "🙂" * 3000  # 6,000 UTF-16 units
    parts = split_text(text)
    assert [utf16_length(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == text


def test_a_single_huge_word_is_cut_hard():
    parts = split_text("x" * 10_000)
    assert [len(p) for p in parts] == [4096, 4096, 1808]


def test_buttons_go_on_the_last_part():
    store = MemoryStore()
    send = Send("line\n" * 2000, buttons=((Button("OK", "a.b:0"),),), protect=True)
    with store.transaction("chat:test") as db:
        messages = to_messages(db, 42, send, datetime(2026, 1, 1, tzinfo=UTC))
    assert len(messages) == 3
    assert [bool(m.buttons) for m in messages] == [False, False, True]
    assert all(m.protect for m in messages)
    assert all(len(b.data) <= 64 and "a.b" not in b.data for row in messages[-1].buttons
               for b in row)
