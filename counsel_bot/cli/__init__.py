"""The `counsel-bot` command line."""

from counsel_bot.cli.main import main

__all__ = ["main"]
