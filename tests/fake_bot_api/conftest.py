from .fixtures import aiogram_bot, fake_bot_api, ptb_bot

__all__ = ["aiogram_bot", "fake_bot_api", "ptb_bot"]
