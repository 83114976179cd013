"""Screenshots of the web desk for the docs, in English and Arabic, on made-up data.

    .venv/bin/python -m tests.web.screenshots docs

Needs Debian's chromium. Everything shown is invented (the SAMPLE deployment, fixed dates).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WORKER = 8001


def seed(desk) -> str:
    conversations = desk.app.conversations
    registry, followup = conversations.registry, conversations.followup
    registry.add_caseworker(8002, "Sam", language="en")
    registry.add_caseworker(WORKER, "Nadia", backup=8002, language="en")
    first, _ = registry.open_case(WORKER, "XS", "fr", "Africa/Dakar")
    others = [registry.open_case(WORKER, "XS", lang, tz)[0]
              for lang, tz in (("ar", "Africa/Cairo"), ("fa", "Asia/Kabul"),
                               ("es", "America/Bogota"), ("ru", "Europe/Moscow"))]

    def activate(case_id: str, chat: str) -> None:
        def change(case) -> None:
            case.status, case.chat = "active", chat
        registry.change_case(case_id, change)

    activate(first.case_id, "telegram:9001")
    activate(others[0].case_id, "telegram:9002")
    activate(others[1].case_id, "telegram:9003")
    with conversations.store.transaction("chat:telegram:9003") as db:
        db.table("delivery").insert({"unreachable_since": (NOW - timedelta(days=2)).isoformat()})
    desk.app.conversations.lifecycle.close(others[3].case_id, "completed", None,
                                           NOW - timedelta(days=3))
    for week, score in enumerate((2, 2, 3, 3, 4, 3, 4)):
        followup.record_checkin(first.case_id, f"K{week}", score, ("work",) if score < 3
                                else (), None, NOW - timedelta(weeks=7 - week))
    followup.record_checkin(others[0].case_id, "K9", 2, ("shelter",), None,
                            NOW - timedelta(days=4))
    # Past alerts, acknowledged sooner or later, for the weekly chart.
    for weeks_ago, severity, minutes in ((6, "high", 50), (5, "urgent", 6), (4, "urgent", 19),
                                         (3, "high", 130), (2, "urgent", 9), (2, "high", 300),
                                         (1, "urgent", 4)):
        at = NOW - timedelta(weeks=weeks_ago)
        alert = followup.raise_alert(first.case_id, severity, ("severe_distress",), "consent",
                                     None, at)
        followup.acknowledge(first.case_id, alert["alert_id"], WORKER,
                             at + timedelta(minutes=minutes))
    followup.raise_alert(first.case_id, "urgent", ("suicide_self_harm",), "vital",
                         "(invented words)", NOW - timedelta(minutes=6))
    followup.raise_alert(others[0].case_id, "high", ("no_shelter", "no_food"), "consent",
                         "(invented words)", NOW - timedelta(minutes=70))
    registry.schedule_session(first.case_id, "2026-11-26 15:00", place="Community centre",
                              duration=60)
    registry.schedule_session(others[0].case_id, "2026-11-25 11:30",
                              online="https://meet.example.org/room", duration=45,
                              interpreter="ar")
    return first.case_id


async def shoot(out: Path) -> None:
    from playwright.async_api import async_playwright

    from tests.telegram.conftest import SimClock
    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, serve_desk

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("COUNSEL_BOT_KEY_FILE", str(Path(tmp) / "key"))
        with serve_desk(Path(tmp) / "data", SimClock(NOW)) as desk:
            case_id = seed(desk)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                           args=CHROMIUM_ARGS)
                for lang in ("en", "ar"):
                    desk.app.conversations.registry.add_caseworker(
                        WORKER, "Nadia", backup=8002, language=lang)
                    context = await browser.new_context(
                        viewport={"width": 1280, "height": 900}, locale=lang,
                        timezone_id="Europe/Berlin")
                    page = await context.new_page()
                    await page.goto(desk.link_for(WORKER))
                    await page.locator("#signin-form button").click()
                    await page.wait_for_url("**/alerts")
                    await page.screenshot(path=str(out / f"desk-alerts-{lang}.png"),
                                          full_page=True)
                    await page.goto(desk.url + "/cases?sort=alerts")
                    await page.screenshot(path=str(out / f"desk-caseload-{lang}.png"),
                                          full_page=True)
                    await page.goto(desk.url + f"/cases/{case_id}")
                    await page.screenshot(path=str(out / f"desk-case-{lang}.png"),
                                          full_page=True)
                    await context.close()
                await browser.close()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(target))
    print(f"screenshots in {target}/desk-*.png")
