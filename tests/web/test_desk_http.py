"""The desk's rules over HTTP (Starlette's test client, https): sign-in, sessions, CSRF,
limits, headers, who sees what, audit, and what the running bot is told."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyotp
import pytest

from counsel_bot.bootstrap import App, build_app
from counsel_bot.cases.signin import SignInLinks
from counsel_bot.config.settings import Settings
from counsel_bot.runtime.inbox import Inbox
from counsel_bot.screening.examples import LabelledExamples
from counsel_bot.store.crypto import ShardCipher
from counsel_bot.web.app import WebDesk
from counsel_bot.web.auth import AttemptLimiter
from counsel_bot.web.server import DeskOptions, ListenRefused, check_options
from tests.conftest import shipped_context
from tests.telegram.conftest import SimClock

with warnings.catch_warnings():  # Starlette would rather have httpx2; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

WORKER, OTHER, SUPERVISOR = 8001, 8004, 8009
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
WORDS = "je veux mourir"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Bench:
    app: App
    desk: WebDesk
    clock: SimClock
    case_id: str
    alert_id: str

    def client(self) -> TestClient:
        return TestClient(self.desk.app(), base_url="https://testserver")

    def link(self, worker: int = WORKER) -> str:
        link = SignInLinks(self.app.store, self.clock).issue(worker)
        assert link is not None
        return link.split("#", 1)[1]

    def sign_in(self, client: TestClient, worker: int = WORKER) -> Any:
        return signin(client, self.link(worker))

    def notes(self) -> list[dict[str, Any]]:
        return [n for _, n in Inbox(self.app.settings.data_dir, ShardCipher(self.app.key)).take()]

    def events(self) -> list[Any]:
        return list(self.app.audit.entries())


def signin(client: TestClient, token: str) -> Any:
    pre = CSRF.search(client.get("/signin").text).group(1)
    return client.post("/signin", data={"csrf": pre, "code": token}, follow_redirects=False)


def csrf_of(client: TestClient, path: str = "/alerts") -> str:
    return CSRF.search(client.get(path).text).group(1)


@pytest.fixture
def bench(tmp_path) -> Iterator[Bench]:
    settings = Settings.from_env({"COUNSEL_BOT_DATA_DIR": str(tmp_path / "data")})
    app = build_app(settings, screening=False, context=shipped_context())
    clock = SimClock(START)
    app.conversations.clock = clock
    registry, followup = app.conversations.registry, app.conversations.followup
    registry.add_caseworker(WORKER, "Nadia Example", language="en")
    registry.add_caseworker(OTHER, "Omar", language="en")
    registry.add_caseworker(SUPERVISOR, "Sara", role="supervisor", language="en")
    case, _ = registry.open_case(WORKER, "XS", "fr", "Europe/Paris")
    alert = followup.raise_alert(case.case_id, "urgent", ("suicide_self_harm",), "vital",
                                 WORDS, START)
    SignInLinks(app.store).record_web_url("https://testserver")
    desk = WebDesk(app.conversations, app.audit, Inbox(settings.data_dir, ShardCipher(app.key)),
                   limiter=AttemptLimiter(per_client=10, overall=100))
    try:
        yield Bench(app, desk, clock, case.case_id, alert["alert_id"])
    finally:
        app.close()


def test_a_sign_in_link_works_once_and_for_ten_minutes(bench):
    client = bench.client()
    token = bench.link()
    answer = signin(client, token)
    assert answer.status_code == 303 and answer.headers["location"] == "/alerts"
    assert signin(bench.client(), token).headers["location"] == "/signin?refused=used"
    late = bench.link()
    bench.clock.advance(minutes=10, seconds=1)
    assert signin(bench.client(), late).headers["location"] == "/signin?refused=expired"
    assert signin(bench.client(), "x" * 43).headers["location"] == "/signin?refused=unknown"
    events = bench.events()
    assert [e.details.get("kind") for e in events if e.event == "web_signed_in"] == ["link"]
    refused = [e.details["reason"] for e in events if e.event == "web_signin_refused"]
    assert refused == ["used", "expired", "unknown"]


def test_cookies_are_secure_httponly_samesite_and_pages_carry_a_strict_csp(bench):
    client = bench.client()
    answer = bench.sign_in(client)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("__Host-desk=")
    for flag in ("HttpOnly", "Secure", "Path=/", "SameSite=strict"):
        assert flag in cookie
    page = client.get("/alerts")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp and "default-src 'none'" in csp
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in page.text and " style=" not in page.text


def test_the_session_ends_after_30_idle_minutes_and_at_sign_out(bench):
    client = bench.client()
    bench.sign_in(client)
    bench.clock.advance(minutes=29)
    assert client.get("/alerts").status_code == 200  # activity restarts the idle time
    bench.clock.advance(minutes=29)
    assert client.get("/cases").status_code == 200
    bench.clock.advance(minutes=30, seconds=1)
    answer = client.get("/alerts", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/signin?done=expired"

    other = bench.client()
    bench.sign_in(other)
    answer = other.post("/signout", data={"csrf": csrf_of(other)}, follow_redirects=False)
    assert answer.headers["location"] == "/signin?done=signed_out"
    assert other.get("/alerts", follow_redirects=False).status_code == 303
    assert "web_signed_out" in [e.event for e in bench.events()]


def test_sign_in_attempts_are_rate_limited(bench):
    client = bench.client()
    for _ in range(10):
        assert signin(client, "y" * 43).status_code == 303
    answer = signin(client, bench.link())  # even a good link waits
    assert answer.status_code == 429
    assert "rate_limited" in [e.details.get("reason") for e in bench.events()]


def test_every_form_needs_its_csrf_token(bench):
    client = bench.client()
    bench.sign_in(client)
    base = f"/cases/{bench.case_id}"
    posts = ["/signout", "/language", f"/alerts/{bench.case_id}/{bench.alert_id}/ack",
             f"/alerts/{bench.case_id}/{bench.alert_id}/words",
             f"/alerts/{bench.case_id}/{bench.alert_id}/false-alarm", f"{base}/sessions",
             f"{base}/sessions/{bench.case_id}-S1/move",
             f"{base}/sessions/{bench.case_id}-S1/cancel", f"{base}/close", f"{base}/plan",
             f"{base}/export", "/security/second-factor", "/security/second-factor/confirm"]
    routes = {r.path for r in bench.desk.app().routes if "POST" in (getattr(r, "methods",
                                                                            None) or ())}
    assert len(routes) == len(posts) + 2  # and /signin, /signin/second (tested below)
    for path in posts:
        assert client.post(path, data={"csrf": "forged"}).status_code == 403, path
    assert client.get("/alerts").status_code == 200  # still signed in: nothing was done
    assert bench.app.conversations.registry.case(bench.case_id).alerts[0]["status"] == "open"
    fresh = bench.client()
    fresh.get("/signin")
    answer = fresh.post("/signin", data={"code": bench.link()}, follow_redirects=False)
    assert answer.headers["location"] == "/signin?refused=csrf"


def test_a_worker_sees_only_their_caseload_and_a_supervisor_sees_all(bench):
    other = bench.client()
    bench.sign_in(other, OTHER)
    assert other.get(f"/cases/{bench.case_id}").status_code == 404
    assert bench.case_id not in other.get("/cases").text
    assert bench.case_id not in other.get("/alerts").text
    answer = other.post(f"/alerts/{bench.case_id}/{bench.alert_id}/ack",
                        data={"csrf": csrf_of(other)})
    assert answer.status_code == 404
    assert bench.app.conversations.registry.case(bench.case_id).alerts[0]["status"] == "open"

    boss = bench.client()
    bench.sign_in(boss, SUPERVISOR)
    assert bench.case_id in boss.get("/alerts").text
    assert boss.get(f"/cases/{bench.case_id}").status_code == 200
    viewed = [e for e in bench.events() if e.event == "case_viewed"]
    assert [(e.actor, e.why) for e in viewed] == [(f"caseworker:{SUPERVISOR}", "supervision")]


def test_acknowledging_tells_the_bot_and_showing_the_words_is_audited(bench):
    client = bench.client()
    bench.sign_in(client)
    csrf = csrf_of(client)
    path = f"/alerts/{bench.case_id}/{bench.alert_id}"
    words = client.post(f"{path}/words", data={"csrf": csrf}, headers={"HX-Request": "true"})
    assert WORDS in words.text and "<html" not in words.text  # a fragment for htmx
    assert WORDS not in client.get("/alerts").text  # only behind the button
    client.post(f"{path}/ack", data={"csrf": csrf})
    alert = bench.app.conversations.registry.case(bench.case_id).alerts[0]
    assert alert["status"] == "acknowledged" and alert["acked_by"] == WORKER
    assert {"type": "alert_acknowledged", "case_id": bench.case_id,
            "alert_id": bench.alert_id} in bench.notes()
    events = {e.event: e for e in bench.events()}
    assert events["alert_details_viewed"].details["alert_id"] == bench.alert_id
    assert events["alert_acknowledged"].actor == f"caseworker:{WORKER}"


def test_a_false_alarm_is_acknowledged_and_feeds_the_screening_examples(bench):
    client = bench.client()
    bench.sign_in(client)
    answer = client.post(f"/alerts/{bench.case_id}/{bench.alert_id}/false-alarm",
                         data={"csrf": csrf_of(client)}, follow_redirects=False)
    assert answer.headers["location"] == "/alerts?done=false_alarm"
    (example,) = LabelledExamples(bench.app.store).all()
    assert example == {"text": WORDS, "lang": "fr", "label": "false_alarm", "source": "web_desk",
                       "at": START.isoformat()}
    alert = bench.app.conversations.registry.case(bench.case_id).alerts[0]
    assert alert["status"] == "acknowledged" and alert["false_alarm"] is True
    assert "alert_false_alarm" in [e.event for e in bench.events()]


def test_no_personal_data_in_urls(bench):
    followup = bench.app.conversations.followup
    followup.record_checkin(bench.case_id, "K1", 2, ("shelter",), "no bed tonight", START)
    client = bench.client()
    bench.sign_in(client)
    pages = [client.get(p).text for p in ("/alerts", "/cases", f"/cases/{bench.case_id}",
                                          "/security")]
    urls = [u for text in pages for u in re.findall(r'(?:href|action|src|hx-get|hx-post)="([^"]*)"',
                                                    text)]
    assert urls
    for url in urls:
        assert re.fullmatch(r"[/A-Za-z0-9_.#-]*", url), url  # ids and fixed words only
        assert "Nadia" not in url and "mourir" not in url and "bed" not in url


def test_a_second_factor_when_set_is_asked_at_sign_in(bench):
    client = bench.client()
    bench.sign_in(client)
    client.post("/security/second-factor", data={"csrf": csrf_of(client, "/security")})
    page = client.get("/security").text
    secret = re.search(r"<code>([A-Z2-7 ]+)</code>", page).group(1).replace(" ", "")
    code = pyotp.TOTP(secret).at(START)
    answer = client.post("/security/second-factor/confirm",
                         data={"csrf": csrf_of(client, "/security"), "code": code},
                         follow_redirects=False)
    assert answer.headers["location"] == "/security?done=second_factor"

    second = bench.client()
    answer = bench.sign_in(second)
    assert answer.headers["location"] == "/signin/second"
    assert second.get("/alerts", follow_redirects=False).status_code == 303  # not yet in
    form = second.get("/signin/second").text
    csrf = CSRF.search(form).group(1)
    replay = second.post("/signin/second", data={"csrf": csrf, "code": code},
                         follow_redirects=False)
    assert replay.headers["location"] == "/signin/second?error=bad_code"  # used already
    bench.clock.advance(seconds=30)
    answer = second.post("/signin/second",
                         data={"csrf": csrf, "code": pyotp.TOTP(secret).at(bench.clock())},
                         follow_redirects=False)
    assert answer.headers["location"] == "/alerts"
    assert second.get("/alerts").status_code == 200
    kinds = [e.details.get("kind") for e in bench.events() if e.event == "web_signed_in"]
    assert kinds == ["link", "link_totp"]


def test_closing_for_a_death_shows_the_protocol_and_tells_the_bot(bench):
    client = bench.client()
    bench.sign_in(client)
    base = f"/cases/{bench.case_id}"
    csrf = csrf_of(client, base)
    page = client.post(f"{base}/close", data={"csrf": csrf, "reason": "deceased"})
    assert "Inform the authorities" in page.text
    assert bench.app.conversations.registry.case(bench.case_id).closed_reason == "deceased"
    assert {"type": "closed", "case_id": bench.case_id} in bench.notes()
    events = [(e.event, e.why) for e in bench.events()]
    assert ("case_closed", "deceased") in events
    assert ("deceased_protocol_shown", "deceased") in events


def test_sessions_and_the_checkin_plan_reach_the_bot_and_export_is_as_in_the_cli(bench):
    client = bench.client()
    bench.sign_in(client)
    base = f"/cases/{bench.case_id}"
    csrf = csrf_of(client, base)
    preview = client.get(f"{base}/local-time", params={"at": "2026-12-01T14:30"},
                         headers={"HX-Request": "true"})
    assert "1:30" in preview.text and "UTC" in preview.text  # Paris, winter: UTC+1
    past = client.post(f"{base}/sessions", data={"csrf": csrf, "at": "2026-11-20T10:00",
                                                 "where": "Office", "duration": "60"},
                       follow_redirects=False)
    assert past.headers["location"] == f"{base}?error=bad_time"
    client.post(f"{base}/sessions", data={"csrf": csrf, "at": "2026-12-01T10:00",
                                          "where": "https://meet.example.org/x",
                                          "duration": "45", "interpreter": "fr"})
    session_id = f"{bench.case_id}-S1"
    client.post(f"{base}/sessions/{session_id}/move", data={"csrf": csrf,
                                                            "at": "2026-12-02T11:00"})
    client.post(f"{base}/sessions/{session_id}/cancel", data={"csrf": csrf})
    client.post(f"{base}/plan", data={"csrf": csrf, "arrival": "2026-11-20",
                                      "days": "3,7", "monthly": "1"})
    kinds = [(n["type"], n.get("kind")) for n in bench.notes()]
    assert kinds == [("session", "scheduled"), ("session", "moved"),
                     ("session", "cancelled"), ("checkins", None)]
    session = bench.app.conversations.registry.case(bench.case_id).sessions[0]
    assert session.at == "2026-12-02T10:00:00+00:00" and session.status == "cancelled"
    exported = client.post(f"{base}/export", data={"csrf": csrf})
    assert exported.headers["content-disposition"].startswith("attachment")
    assert exported.json() == bench.app.conversations.lifecycle.export(bench.case_id)
    assert ("case_exported", "returnee_request") in [(e.event, e.why) for e in bench.events()]


def test_the_desk_refuses_to_listen_beyond_loopback_without_a_tls_proxy(tmp_path):
    assert check_options(DeskOptions("127.0.0.1", 8080)) == "http://127.0.0.1:8080"
    for host in ("0.0.0.0", "192.0.2.10", "::"):
        with pytest.raises(ListenRefused):
            check_options(DeskOptions(host, 8080))
    with pytest.raises(ListenRefused):  # behind a proxy, the public address is https
        check_options(DeskOptions("0.0.0.0", 8080, behind_tls_proxy=True,
                                  base_url="http://desk.example.org"))
    assert check_options(DeskOptions("0.0.0.0", 8080, True, "https://desk.example.org/")) \
        == "https://desk.example.org"
    done = subprocess.run([sys.executable, "-m", "counsel_bot.cli", "web", "--listen",
                           "0.0.0.0:8080"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "loopback" in done.stderr


def test_counsel_bot_web_runs_as_its_own_process_and_records_its_address(tmp_path):
    env = {"COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
           "COUNSEL_BOT_KEY_FILE": str(tmp_path / "keys" / "key"), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([sys.executable, "-m", "counsel_bot.cli", "web", "--listen",
                                "127.0.0.1:0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        for _ in range(100):
            try:
                with urllib.request.urlopen(url + "/signin", timeout=5) as answer:
                    assert answer.status == 200
                    assert "default-src 'none'" in answer.headers["content-security-policy"]
                    break
            except OSError:
                process.poll()
                assert process.returncode is None
                import time

                time.sleep(0.1)
        else:
            raise AssertionError("the desk did not answer")
    finally:
        process.terminate()
        process.wait(10)
    settings = Settings.from_env(env)
    app = build_app(settings, screening=False, context=shipped_context())
    try:
        assert SignInLinks(app.store, env={}).web_url() == url
    finally:
        app.close()
