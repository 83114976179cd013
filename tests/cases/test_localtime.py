"""Local times: DST gaps and overlaps, quiet hours in the returnee's own timezone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from counsel_bot.cases.localtime import (
    LocalTimeError,
    in_quiet_hours,
    out_of_quiet_hours,
    parse_local,
)

QUIET = (21, 8)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_winter_and_summer_offsets():
    assert parse_local("2026-12-01 14:30", "Europe/Paris") == utc(2026, 12, 1, 13, 30)
    assert parse_local("2027-07-01 14:30", "Europe/Paris") == utc(2027, 7, 1, 12, 30)


def test_a_time_the_clocks_skip_is_refused():
    with pytest.raises(LocalTimeError, match="does not exist"):
        parse_local("2027-03-28 02:30", "Europe/Paris")


def test_a_time_that_happens_twice_means_the_first():
    assert parse_local("2026-10-25 02:30", "Europe/Paris") == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize("text", ["tomorrow", "2026-13-01 10:00", "2026-12-01", ""])
def test_unreadable_times_are_refused(text):
    with pytest.raises(LocalTimeError):
        parse_local(text, "Europe/Paris")


def test_unknown_timezone():
    with pytest.raises(LocalTimeError, match="unknown timezone"):
        parse_local("2026-12-01 10:00", "Mars/Olympus")


def test_quiet_hours_are_reckoned_locally():
    # 21:30 in Paris (winter) is 20:30 UTC: quiet for the returnee, not for a UTC clock.
    assert in_quiet_hours(utc(2026, 12, 1, 20, 30), "Europe/Paris", QUIET)
    assert not in_quiet_hours(utc(2026, 12, 1, 20, 30), "Africa/Abidjan", QUIET)


def test_a_reminder_in_the_night_moves_to_the_morning_if_early_enough():
    session = utc(2026, 12, 2, 11, 0)  # 12:00 in Paris
    due = utc(2026, 12, 1, 23, 0)  # midnight in Paris
    moved = out_of_quiet_hours(due, "Europe/Paris", QUIET, not_before=utc(2026, 11, 30, 0, 0),
                               not_after=session)
    assert moved == utc(2026, 12, 2, 7, 0)  # 08:00 in Paris


def test_else_to_the_evening_before():
    session = utc(2026, 12, 2, 6, 30)  # 07:30 in Paris
    due = utc(2026, 12, 2, 5, 30)  # 06:30 in Paris: quiet; the morning is too late
    moved = out_of_quiet_hours(due, "Europe/Paris", QUIET, not_before=utc(2026, 11, 30, 0, 0),
                               not_after=session)
    assert moved == utc(2026, 12, 1, 19, 30)  # 20:30 in Paris, the evening before


def test_none_when_nothing_fits():
    session = utc(2026, 12, 2, 6, 30)
    due = utc(2026, 12, 2, 5, 30)
    assert out_of_quiet_hours(due, "Europe/Paris", QUIET, not_before=utc(2026, 12, 2, 0, 0),
                              not_after=session) is None


def test_the_morning_after_a_dst_change_is_local_eight():
    due = utc(2027, 3, 28, 3, 0)  # 05:00 in Paris, the night the clocks go forward
    moved = out_of_quiet_hours(due, "Europe/Paris", QUIET, not_before=utc(2027, 3, 1, 0, 0),
                               not_after=utc(2027, 3, 29, 0, 0))
    assert moved == utc(2027, 3, 28, 6, 0)  # 08:00 summer time
