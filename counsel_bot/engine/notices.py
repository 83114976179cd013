"""What a case worker is told, in the case worker's language. Only what each event allows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from counsel_bot.i18n.catalogs import Translator

EVENTS = ("joined", "consent_declined", "session_confirmed", "session_declined",
          "session_change_requested", "message", "unreachable")


def caseworker_notice(event: str, case_id: str, details: Mapping[str, Any],
                      system: Mapping[str, str], tr: Translator) -> str:
    if event not in EVENTS:
        raise ValueError(f"unknown case-worker event {event!r}")
    values = {"case_id": tr.ltr(case_id), "session_id": tr.ltr(str(details.get("session_id", ""))),
              "suggestion": details.get("suggestion", ""), "text": details.get("text", "")}
    return tr(system[f"cw_{event}"], **values)
