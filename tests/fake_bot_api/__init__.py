"""Fake Telegram Bot API server for testing counsel-bot on PTB and aiogram."""

from .server import DEFAULT_TOKEN, BotApiError, FakeBotApi, Fault

__all__ = ["DEFAULT_TOKEN", "BotApiError", "FakeBotApi", "Fault"]
