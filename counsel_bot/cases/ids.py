"""Identifiers: random, short enough to read aloud, and revealing nothing."""

from __future__ import annotations

import re
import secrets

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32: no I, L, O, U
CASE_ID = re.compile(r"^C-[0-9A-HJKMNP-TV-Z]{8}$")
SESSION_ID = re.compile(r"^(C-[0-9A-HJKMNP-TV-Z]{8})-S(\d{1,4})$")
INVITE_CODE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")  # Telegram deep-link payload rules


def new_case_id() -> str:
    return "C-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


def new_invite_code() -> str:
    """32 characters of A-Za-z0-9_-: 192 random bits, unrelated to the case ID."""
    return secrets.token_urlsafe(24)


def session_id(case_id: str, number: int) -> str:
    return f"{case_id}-S{number}"


def case_of_session(session: str) -> str | None:
    match = SESSION_ID.match(session)
    return match.group(1) if match else None
