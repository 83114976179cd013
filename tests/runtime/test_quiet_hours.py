"""Quiet hours, as the returnee's own wall clock has them: session reminders and check-ins
are planned on the real scheduler, fired on a simulated clock, and land outside the night,
in several timezones and across daylight-saving changes.

Quiet hours are 21:00 to 08:00 unless a row says otherwise. Rows read: the returnee's
timezone, when something falls due on their wall clock, and when it is sent on it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from counsel_bot.cases.localtime import in_quiet_hours, parse_local, zone
from counsel_bot.engine.inbound import CheckinDue, SessionEvent
from tests.runtime.world import DAY, World, build_world, local

QUIET = (21, 8)

REMINDERS = [
    # timezone, the session, the reminder a day before, the reminder an hour before
    ("Europe/Paris", "2026-12-02 12:00", "2026-12-01 12:00", "2026-12-02 11:00"),
    # 07:30 is quiet: moved to 08:00, still before the session
    ("Europe/Paris", "2026-12-02 08:30", "2026-12-01 08:30", "2026-12-02 08:00"),
    # 07:05 is quiet and 08:00 is too late: the evening before
    ("Europe/Paris", "2026-12-02 08:05", "2026-12-01 08:05", "2026-12-01 20:30"),
    # a late session: the day reminder (22:00) waits for the morning, the hour one (21:00)
    # comes at 20:30
    ("Europe/Paris", "2026-12-02 22:00", "2026-12-02 08:00", "2026-12-02 20:30"),
    # the night the clocks go forward (02:00 CET -> 03:00 CEST): 08:00 is summer time
    ("Europe/Paris", "2027-03-28 08:30", "2027-03-27 08:00", "2027-03-28 08:00"),
    ("Europe/Paris", "2027-03-28 04:00", "2027-03-27 08:00", "2027-03-27 20:30"),
    # the night the clocks go back: 24 hours before is 09:30 summer time
    ("Europe/Paris", "2026-10-25 08:30", "2026-10-24 09:30", "2026-10-25 08:00"),
    # UTC+14: the local day is not the UTC day
    ("Pacific/Kiritimati", "2026-12-02 07:30", "2026-12-01 08:00", "2026-12-01 20:30"),
    # far east, the night summer time starts there
    ("Pacific/Auckland", "2026-09-27 08:30", "2026-09-26 08:00", "2026-09-27 08:00"),
    # a half-hour offset
    ("Asia/Kolkata", "2026-12-02 08:45", "2026-12-01 08:45", "2026-12-02 08:00"),
    # UTC-11
    ("Pacific/Pago_Pago", "2026-12-02 23:00", "2026-12-02 08:00", "2026-12-02 20:30"),
    # far west, the night summer time ends there
    ("America/Los_Angeles", "2026-11-01 08:30", "2026-10-31 09:30", "2026-11-01 08:00"),
]


def _sent(world: World, timezone: str, kind: type) -> list[tuple[str, str]]:
    found = []
    for d in world.chats.delivered:
        if isinstance(d.inbound, kind):
            assert d.sends, f"the engine said nothing for {d.inbound}"
            name = (d.inbound.kind if isinstance(d.inbound, SessionEvent)
                    else "reminder" if d.inbound.reminder else "checkin")
            found.append((local(d.at, timezone), name))
    return found


@pytest.mark.parametrize(("timezone", "session_at", "day_before", "hour_before"), REMINDERS)
async def test_session_reminders_are_sent_outside_quiet_hours(tmp_path, store_target, timezone,
                                                               session_at,
                                                               day_before, hour_before):
    starts = parse_local(session_at, timezone)
    world = build_world(tmp_path, store_at=store_target, now=starts - 5 * DAY)
    case = world.joined_case(timezone)
    _, session = world.registry.schedule_session(case.case_id, session_at, place="The office")
    await world.casework.session_changed(session.session_id, "scheduled")
    await world.run_until(starts)
    scheduled = local(starts - 5 * DAY, timezone)
    assert _sent(world, timezone, SessionEvent) == [
        (scheduled, "scheduled"), (day_before, "reminder_day"), (hour_before, "reminder_hour")]


@pytest.mark.parametrize(("timezone", "session_at", "now"), [
    # 06:00: the day reminder is past; the hour one (06:30) fits neither in the morning
    # (too late) nor in the evening before (past)
    ("Europe/Paris", "2026-12-02 07:30", "2026-12-02 06:00"),
    ("Pacific/Kiritimati", "2026-12-02 07:30", "2026-12-02 06:00"),
    ("Pacific/Pago_Pago", "2026-12-02 07:30", "2026-12-02 06:00"),
])
async def test_a_reminder_that_only_fits_in_the_night_is_not_sent(tmp_path, store_target,
                                                                  timezone,
                                                                  session_at, now):
    world = build_world(tmp_path, store_at=store_target, now=parse_local(now, timezone) - DAY)
    case = world.joined_case(timezone)
    world.clock.now = parse_local(now, timezone)
    _, session = world.registry.schedule_session(case.case_id, session_at, place="The office")
    await world.casework.session_changed(session.session_id, "scheduled")
    assert world.scheduler.tagged(f"session:{session.session_id}") == []
    await world.run_until(parse_local(session_at, timezone))
    assert [kind for _, kind in _sent(world, timezone, SessionEvent)] == ["scheduled"]


@pytest.mark.parametrize(("lead", "kinds"), [
    (timedelta(hours=5), ["scheduled", "reminder_hour"]),  # no "tomorrow" for this afternoon
    (timedelta(minutes=40), ["scheduled"]),  # nor "in one hour" 40 minutes before
])
async def test_a_reminder_whose_time_had_passed_when_the_session_was_planned_is_not_sent(
        tmp_path, store_target, lead, kinds):
    timezone, session_at = "Europe/Paris", "2026-12-02 15:00"
    starts = parse_local(session_at, timezone)
    world = build_world(tmp_path, store_at=store_target, now=starts - lead - DAY)
    case = world.joined_case(timezone)
    world.clock.now = starts - lead
    _, session = world.registry.schedule_session(case.case_id, session_at, place="The office")
    await world.casework.session_changed(session.session_id, "scheduled")
    await world.run_until(starts)
    assert [kind for _, kind in _sent(world, timezone, SessionEvent)] == kinds


CHECKINS = [
    # timezone, the check-in hour, quiet hours, the day, when it is sent
    ("Europe/Paris", 10, QUIET, "2026-12-04", "2026-12-04 10:00"),
    ("Europe/Paris", 6, QUIET, "2026-12-04", "2026-12-04 08:00"),
    ("Europe/Paris", 22, QUIET, "2026-12-04", "2026-12-05 08:00"),
    # the morning would be 13 hours late: half an hour before the quiet hours instead
    ("Europe/Paris", 19, (18, 8), "2026-12-04", "2026-12-04 17:30"),
    # quiet hours that do not cross midnight
    ("Europe/Paris", 3, (0, 6), "2026-12-04", "2026-12-04 06:00"),
    # 02:00 does not exist that night; 08:00 is summer time
    ("Europe/Paris", 2, QUIET, "2027-03-28", "2027-03-28 08:00"),
    # 02:00 happens twice that night; 08:00 is winter time
    ("Europe/Paris", 2, QUIET, "2026-10-25", "2026-10-25 08:00"),
    ("Europe/Paris", 6, QUIET, "2026-10-25", "2026-10-25 08:00"),
    ("Pacific/Kiritimati", 23, QUIET, "2026-12-04", "2026-12-05 08:00"),
    ("Pacific/Auckland", 2, QUIET, "2026-09-27", "2026-09-27 08:00"),
    ("Asia/Kolkata", 21, QUIET, "2026-12-04", "2026-12-05 08:00"),
    ("Pacific/Pago_Pago", 5, QUIET, "2026-12-04", "2026-12-04 08:00"),
    ("America/Los_Angeles", 7, QUIET, "2026-11-01", "2026-11-01 08:00"),
]


def _noon(day: str, timezone: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(12), tzinfo=zone(timezone))


@pytest.mark.parametrize(("timezone", "hour", "quiet", "day", "sent_at"), CHECKINS,
                         ids=lambda v: f"quiet{v[0]}-{v[1]}" if isinstance(v, tuple) else None)
async def test_checkins_are_sent_outside_quiet_hours(tmp_path, store_target, timezone, hour, quiet,
                                                     day,
                                                     sent_at):
    world = build_world(tmp_path, store_at=store_target, now=_noon(day, timezone) - 10 * DAY,
                        checkin_hour=hour,
                        quiet_hours=quiet, checkin_days=(3,), checkin_monthly=False)
    arrival = date.fromisoformat(day) - timedelta(days=3)
    case = world.joined_case(timezone, arrival=arrival.isoformat())
    world.care.plan_checkins(case.case_id)
    planned = world.scheduler.tagged(f"checkins:{case.case_id}")
    assert [local(item.due, timezone) for item in planned] == [sent_at]
    await world.run_until(parse_local(sent_at, timezone) + timedelta(hours=1))
    assert _sent(world, timezone, CheckinDue) == [(sent_at, "checkin")]
    assert not in_quiet_hours(world.chats.delivered[-1].at, timezone, quiet)



def _checkin_world(tmp_path, store_target, timezone: str, hour: int, arrival: str, *,
                   monthly: bool) -> tuple[World, str]:
    world = build_world(tmp_path, store_at=store_target, now=_noon(arrival, timezone) - 2 * DAY,
                        checkin_hour=hour,
                        checkin_days=(3,), checkin_monthly=monthly)
    case = world.joined_case(timezone, arrival=arrival)
    world.care.plan_checkins(case.case_id)
    return world, case.case_id


@pytest.mark.parametrize(("timezone", "hour", "arrival", "asked", "reminded"), [
    ("Europe/Paris", 10, "2026-12-01", "2026-12-04 10:00", "2026-12-05 10:00"),
    # the clocks go back that night: 24 hours after 08:00 summer time is 07:00 winter time
    ("Europe/Paris", 8, "2026-10-21", "2026-10-24 08:00", "2026-10-25 08:00"),
    # they go forward: 24 hours after 20:00 winter time is 21:00 summer time
    ("Europe/Paris", 20, "2027-03-24", "2027-03-27 20:00", "2027-03-28 20:00"),
    ("America/Los_Angeles", 8, "2026-10-28", "2026-10-31 08:00", "2026-11-01 08:00"),
    # asked in the morning after a late check-in hour: reminded the next morning
    ("Pacific/Kiritimati", 22, "2026-12-01", "2026-12-05 08:00", "2026-12-06 08:00"),
])
async def test_the_reminder_of_an_unanswered_checkin_keeps_out_of_quiet_hours(
        tmp_path, store_target, timezone, hour, arrival, asked, reminded):
    world, _ = _checkin_world(tmp_path, store_target, timezone, hour, arrival, monthly=False)
    await world.run_until(parse_local(reminded, timezone) + timedelta(hours=1))
    assert _sent(world, timezone, CheckinDue) == [(asked, "checkin"), (reminded, "reminder")]


@pytest.mark.parametrize(("timezone", "hour", "asked"), [
    ("Europe/Paris", 10, ["2026-09-10 10:00", "2026-10-10 10:00", "2026-11-09 10:00"]),
    # 08:00 summer time plus 30 days would be 07:00 winter time
    ("Europe/Paris", 8, ["2026-09-10 08:00", "2026-10-10 08:00", "2026-11-09 08:00"]),
    # a check-in hour in the quiet hours: the next morning, every month
    ("Europe/Paris", 22, ["2026-09-11 08:00", "2026-10-11 08:00", "2026-11-10 08:00"]),
    ("America/Los_Angeles", 8, ["2026-09-10 08:00", "2026-10-10 08:00", "2026-11-09 08:00"]),
])
async def test_monthly_checkins_keep_the_checkin_hour_across_clock_changes(
        tmp_path, store_target, timezone, hour, asked):
    world, _ = _checkin_world(tmp_path, store_target, timezone, hour, "2026-09-07", monthly=True)
    await world.run_until(parse_local(asked[-1], timezone) + timedelta(hours=1))
    questions = [at for at, kind in _sent(world, timezone, CheckinDue) if kind == "checkin"]
    assert questions == asked
