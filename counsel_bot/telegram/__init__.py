"""The Telegram door: the shared gateway, the two framework adapters, webhook and polling."""
