"""Logging that never carries a secret or a returnee's words.

Framework loggers stay at WARNING even in verbose mode: at DEBUG they print whole updates,
and an HTTP client prints URLs, which for Telegram contain the bot token.
"""

from __future__ import annotations

import logging
import re

TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
QUIET_LOGGERS = ("httpx", "httpcore", "telegram", "aiogram", "aiohttp.access", "hpack")


class RedactSecrets(logging.Filter):
    """Replace bot tokens (and any registered secret) in every record by a placeholder."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = TOKEN_PATTERN.sub("<redacted-token>", message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, "<redacted>")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            cleaned_exc = TOKEN_PATTERN.sub("<redacted-token>", text)
            for secret in self.secrets:
                cleaned_exc = cleaned_exc.replace(secret, "<redacted>")
            if cleaned_exc != text:
                record.exc_info, record.exc_text = None, None
                record.msg = f"{record.msg}\n{cleaned_exc}"
        return True


REDACTOR = RedactSecrets()


def configure_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def register_secret(secret: str) -> None:
    if secret:
        REDACTOR.secrets.add(secret)
