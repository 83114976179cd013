"""Case workers, cases, invitations and sessions on the real store."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from counsel_bot.cases.registry import CaseError, Registry
from counsel_bot.store import TinyDBStore

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def registry(tmp_path, key, context):
    clock = {"now": NOW}
    registry = Registry(TinyDBStore(tmp_path / "data", key), context.deployment,
                        clock=lambda: clock["now"])
    registry.clock_state = clock  # type: ignore[attr-defined]
    registry.add_caseworker(100, "Ana")
    return registry


def test_a_case_gets_a_random_single_use_invitation(registry):
    case, invitation = registry.open_case(100, "XS", "fr", "Europe/Paris")
    assert re.fullmatch(r"C-[0-9A-Z]{8}", case.case_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", invitation.code)
    assert case.case_id[2:] not in invitation.code
    assert invitation.expires == NOW + timedelta(days=14)
    assert invitation.link("counsel_bot") == f"https://t.me/counsel_bot?start={invitation.code}"
    joined = registry.redeem(invitation.code, "telegram:1")
    assert joined.case_id == case.case_id and joined.chat == "telegram:1"
    assert registry.redeem(invitation.code, "telegram:2") == "used"
    assert registry.redeem(invitation.code, "telegram:1").case_id == case.case_id  # same person
    assert registry.case(case.case_id).status == "active"


def test_expired_malformed_and_unknown_codes(registry):
    _case, invitation = registry.open_case(100, "XS", "fr", "Europe/Paris")
    registry.clock_state["now"] = NOW + timedelta(days=15)
    assert registry.redeem(invitation.code, "telegram:1") == "expired"
    assert registry.redeem("short", "telegram:1") == "malformed"
    assert registry.redeem("x" * 65, "telegram:1") == "malformed"
    assert registry.redeem("<script>alert(1)</script>aaaaaaaaaaaa", "telegram:1") == "malformed"
    assert registry.redeem("A" * 32, "telegram:1") == "unknown"


@pytest.mark.parametrize(
    ("args", "message"),
    [(("XS", "fr", "Mars/Base"), "unknown timezone"), (("ZZ", "fr", "UTC"), "country"),
     (("XS", "de", "UTC"), "language")],
)
def test_open_case_refuses_bad_details(registry, args, message):
    with pytest.raises(CaseError, match=message):
        registry.open_case(100, *args)


def test_only_registered_case_workers_open_cases(registry):
    with pytest.raises(CaseError, match="no case worker"):
        registry.open_case(999, "XS", "fr", "UTC")


def test_sessions_schedule_move_and_cancel(registry):
    case, _ = registry.open_case(100, "XS", "fr", "Europe/Paris")
    _, session = registry.schedule_session(case.case_id, "2026-12-01 14:30", place="Office",
                                           duration=45, interpreter="ps")
    assert session.session_id == f"{case.case_id}-S1"
    assert session.starts == datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    _, moved = registry.move_session(session.session_id, "2026-12-02 09:00")
    assert moved.version == 2 and moved.starts == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    _, cancelled = registry.cancel_session(session.session_id)
    assert cancelled.status == "cancelled"
    with pytest.raises(CaseError, match="cancelled"):
        registry.move_session(session.session_id, "2026-12-03 09:00")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"place": None}, "either a place"), ({"place": "x", "online": "https://y"}, "either"),
     ({"place": None, "online": "ftp://x"}, "https"), ({"duration": 5}, "duration"),
     ({"interpreter": "zz-nope"}, "interpreter")],
)
def test_session_details_are_checked(registry, kwargs, message):
    case, _ = registry.open_case(100, "XS", "fr", "Europe/Paris")
    details = {"place": "Office", **kwargs}
    with pytest.raises(CaseError, match=message):
        registry.schedule_session(case.case_id, "2026-12-01 14:30", **details)


def test_a_session_in_the_past_is_refused(registry):
    case, _ = registry.open_case(100, "XS", "fr", "Europe/Paris")
    with pytest.raises(CaseError, match="past"):
        registry.schedule_session(case.case_id, "2026-11-23 09:00", place="Office")


def test_caseload_lists_a_workers_cases(registry):
    registry.add_caseworker(200, "Ben")
    mine = {registry.open_case(100, "XS", "fr", "UTC")[0].case_id for _ in range(3)}
    registry.open_case(200, "XS", "fr", "UTC")
    assert {c.case_id for c in registry.caseload(100)} == mine
