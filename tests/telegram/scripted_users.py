"""Returnees who follow a script (commands, button presses by label, free text), and the
reference answer to each script: what the engine says when nothing goes wrong.

The reference is computed with the real engine and store in this process (`run_step`, the
code the bot itself runs), so a test can compare what a bot under stress sent, message by
message, with what it should have sent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from counsel_bot.bootstrap import build_app, outcome_codec
from counsel_bot.config.settings import Settings
from counsel_bot.telegram.chats import StepRequest, run_step
from counsel_bot.telegram.updates import IncomingUpdate, chat_key
from tests.conftest import shipped_context

ONBOARDING = [("text", "/start"), ("press", "English"), ("press", "Yes, I agree"),
              ("press", "Yes, alert my case worker"), ("press", "Yes, send check-ins")]
MENU = ["What is reintegration assistance?", "Services in my country", "How the process works",
        "What to prepare and bring", "Rumours and facts", "How to reach my case worker"]
EXTRAS = [("text", "hello, is anyone there?"), ("text", "/help"), ("text", "/menu")]

Action = tuple[str, str]


def script(user: int, length: int) -> list[Action]:
    """Onboarding, then a seeded mix of menu topics and free text (deterministic per user)."""
    rng = random.Random(user)
    actions: list[Action] = list(ONBOARDING)
    while len(actions) < length:
        actions.append(("press", rng.choice(MENU)) if rng.random() < 0.7 else rng.choice(EXTRAS))
    return actions


@dataclass
class Reference:
    """Per action of a script: the texts the bot says, in order."""

    replies: list[list[str]]

    @property
    def texts(self) -> list[str]:
        return [t for reply in self.replies for t in reply]


def references(scripts: dict[int, list[Action]], folder: Path) -> dict[int, Reference]:
    app = build_app(Settings.from_env({"COUNSEL_BOT_DATA_DIR": str(folder)}),
                    context=shipped_context())
    codec = outcome_codec()
    out = {}
    try:
        for user, actions in scripts.items():
            last_buttons: dict[str, str] = {}
            replies = []
            for number, (kind, value) in enumerate(actions):
                if kind == "text":
                    update = IncomingUpdate(number, user, "private", "text", "en", text=value)
                else:
                    update = IncomingUpdate(number, user, "private", "callback", "en",
                                            callback_id=str(number),
                                            callback_data=last_buttons[value])
                outcome = run_step(app.conversations,
                                   StepRequest(chat_key(user), f"u:{number}", update=update),
                                   codec)
                messages = [m for _chat, _priority, ms in outcome.groups for m in ms]
                replies.append([m.text for m in messages])
                for message in messages:
                    if message.buttons:
                        last_buttons = {b.label: b.data for row in message.buttons for b in row}
            out[user] = Reference(replies)
    finally:
        app.close()
    return out
