"""Dates for tests that involve a process on the real clock (the command line checks that a
session is not in the past): always ahead of whatever day the suite runs on, with the
calendar facts a test asserts (weekdays, daylight-saving changes) computed, not written in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

YEAR = datetime.now(UTC).year + 2  # far enough that November of YEAR is always ahead

FRENCH_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = YEAR) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(month: int, day: int, hm: str, year: int = YEAR) -> str:
    """A local time as the command line takes it: "YYYY-MM-DD HH:MM"."""
    return f"{year:04d}-{month:02d}-{day:02d} {hm}"


def last_sunday(year: int, month: int) -> date:
    """The EU changes its clocks on the last Sunday of March and of October."""
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    last = first_of_next - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - 6) % 7)
