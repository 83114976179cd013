"""counsel-bot: a counselling assistant for returning migrants and their case workers."""

__version__ = "0.1.0"
