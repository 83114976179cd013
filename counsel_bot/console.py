"""The console door: the bot in a terminal, with buttons shown as numbered options."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from counsel_bot.engine.effects import Effect, Send
from counsel_bot.engine.inbound import Inbound, Press, Start, parse_text
from counsel_bot.runtime.conversations import ConversationService

CONSOLE_CHAT = "console:local"


class ConsoleDoor:
    def __init__(self, conversations: ConversationService, out: TextIO,
                 chat: str = CONSOLE_CHAT) -> None:
        self.conversations = conversations
        self.out = out
        self.chat = chat
        self.actions: list[str] = []  # the numbered options of the last message with buttons

    def show(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if not isinstance(effect, Send):
                continue
            self.out.write("\n" + effect.text.strip() + "\n")
            if effect.buttons:
                self.actions = list(effect.actions)
                labels = [b.label for row in effect.buttons for b in row]
                for number, label in enumerate(labels, start=1):
                    self.out.write(f"  {number}. {label}\n")
        self.out.flush()

    def to_inbound(self, line: str) -> Inbound:
        """A number picks an option; anything else is read as a message or a command."""
        stripped = line.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(self.actions):
            return Press(self.actions[int(stripped) - 1])
        return parse_text(line)

    def send(self, inbound: Inbound) -> None:
        self.show(self.conversations.handle(self.chat, inbound))

    def run(self, lines: Iterable[str], language: str | None = None, prompt: str = "") -> None:
        """Start the conversation, then answer each line until the input ends."""
        self.send(Start(language_hint=language, language_chosen=language is not None))
        self.out.write(prompt)
        self.out.flush()
        for raw in lines:
            self.send(self.to_inbound(raw.rstrip("\n")))
            self.out.write(prompt)
            self.out.flush()
