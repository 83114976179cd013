"""Local wall-clock times in a person's timezone, converted to UTC without DST surprises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class LocalTimeError(ValueError):
    """A local time that cannot be used, with the reason in plain words."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise LocalTimeError(f"unknown timezone {name!r} (use a name like Africa/Dakar)") from None


def parse_local(text: str, timezone: str) -> datetime:
    """"YYYY-MM-DD HH:MM" in `timezone` -> an aware UTC datetime.

    A time skipped by a daylight-saving change is refused; a time that happens twice (when
    clocks go back) means the first of the two.
    """
    try:
        naive = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise LocalTimeError(f"{text!r} is not a time like 2026-12-01 14:30") from None
    tz = zone(timezone)
    local = naive.replace(tzinfo=tz, fold=0)
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != naive:
        raise LocalTimeError(f"{text} does not exist in {timezone}: the clocks skip it for "
                             "daylight saving time")
    return utc


def in_quiet_hours(when: datetime, timezone: str, quiet: tuple[int, int]) -> bool:
    """Whether `when` falls in the quiet hours (start hour to end hour, local time)."""
    hour = when.astimezone(zone(timezone)).hour
    start, end = quiet
    return start <= hour or hour < end if start > end else start <= hour < end


def _local_at(day: datetime, hour: int, tz: ZoneInfo) -> datetime:
    naive = datetime(day.year, day.month, day.day, hour)
    return naive.replace(tzinfo=tz).astimezone(UTC)


def out_of_quiet_hours(when: datetime, timezone: str, quiet: tuple[int, int], *,
                       not_before: datetime, not_after: datetime) -> datetime | None:
    """Move a time out of quiet hours: to the morning if that is early enough, else to the
    evening before; None when neither fits between `not_before` and `not_after`."""
    if not in_quiet_hours(when, timezone, quiet):
        return when
    tz = zone(timezone)
    local = when.astimezone(tz)
    start, end = quiet
    morning_day = local if local.hour < end else local + timedelta(days=1)
    morning = _local_at(morning_day, end, tz)
    if not_before <= morning <= not_after:
        return morning
    evening_day = local if local.hour >= start else local - timedelta(days=1)
    evening = _local_at(evening_day, start, tz) - timedelta(minutes=30)
    if not_before <= evening <= not_after and not in_quiet_hours(evening, timezone, quiet):
        return evening
    return None
