"""The web desk in a real browser (Debian's chromium, driven by Playwright) against the desk
served on 127.0.0.1, beside the real bot on the fake Bot API where the bot matters."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from playwright.async_api import expect

from counsel_bot.runtime.inbox import Inbox
from counsel_bot.store.crypto import ShardCipher
from tests.telegram.conftest import SimClock, join, start_bot, stop_bot
from tests.web.conftest import LINK, serve_desk, sign_in

WORKER, BACKUP, RETURNEE, OTHER = 8001, 8002, 8003, 8004
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_an_alert_acknowledged_in_the_browser_never_reaches_the_backup(
        fake_bot_api, tmp_path, browser):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, "ptb", "polling", clock=clock)
    api = fake_bot_api
    try:
        with serve_desk(tmp_path / "data", clock) as desk:
            registry = bot.app.conversations.registry
            registry.add_caseworker(BACKUP, "Sam", language="en")
            registry.add_caseworker(WORKER, "Nadia", backup=BACKUP, language="en")
            case, invitation = registry.open_case(WORKER, "XS", "fr", "Europe/Paris")
            await join(bot, RETURNEE, invitation.code, "fr")
            mark = api.mark()
            await bot.text(RETURNEE, "je veux mourir", language_code="fr")
            (alert,) = await api.wait_for_sent(chat_id=WORKER, since=mark)
            assert case.case_id in alert["text"]

            # The worker asks the bot for a link, in their own Telegram chat.
            mark = api.mark()
            await bot.text(WORKER, "/web")
            (reply,) = await bot.replies(WORKER, since=mark)
            assert reply["protect_content"] is True
            link = LINK.search(reply["text"]).group(0)
            assert link.startswith(desk.url)

            page = await sign_in(browser, link)
            assert page.url.endswith("/alerts")
            alert_id = registry.case(case.case_id).alerts[0]["alert_id"]
            row = page.locator(f"#alert-{alert_id}")
            await row.wait_for()
            assert "URGENT" in await row.inner_text()
            countdown = row.locator(".countdown")
            await expect(countdown).to_have_text(re.compile(r"0:1[45]:\d\d left"))
            first = await countdown.inner_text()
            await expect(countdown).not_to_have_text(first, timeout=3000)  # it counts down
            await row.get_by_role("button", name=f"Acknowledge {case.case_id}").click()
            await page.get_by_role("status").wait_for()
            assert "acknowledged" in await page.get_by_role("status").inner_text()
            assert await page.locator(f"#alert-{alert_id}").count() == 0

            # Past the deadline, the bot's scheduler finds the alert acknowledged.
            mark = api.mark()
            clock.advance(minutes=20)
            await bot.runner.scheduler.tick()
            await bot.settle()
            assert api.messages_to(BACKUP) == []
            stored = registry.case(case.case_id).alerts[0]
            assert stored["status"] == "acknowledged" and stored["acked_by"] == WORKER
            assert stored["escalated"] is False
            events = [e.event for e in bot.app.audit.entries()]
            assert {"web_link_issued", "web_signed_in", "alert_acknowledged"} <= set(events)
            await page.context.close()
    finally:
        await stop_bot(bot)


def _seed(desk) -> tuple[str, str]:
    registry = desk.app.conversations.registry
    followup = desk.app.conversations.followup
    registry.add_caseworker(WORKER, "Nadia", language="en")
    registry.add_caseworker(OTHER, "Omar", language="en")
    mine, _ = registry.open_case(WORKER, "XS", "fr", "Africa/Dakar")
    theirs, _ = registry.open_case(OTHER, "XS", "ar", "Africa/Dakar")
    for day, score in ((2, 2), (9, 3), (16, 4)):
        followup.record_checkin(mine.case_id, f"K{day}", score, ("work",), None,
                                datetime(2026, 11, day, 10, tzinfo=UTC))
    return mine.case_id, theirs.case_id


async def test_sign_in_open_a_case_see_its_chart_schedule_a_session_and_sign_out(
        tmp_path, browser):
    clock = SimClock(START)
    with serve_desk(tmp_path / "data", clock) as desk:
        case_id, _ = _seed(desk)
        link = desk.link_for(WORKER)
        page = await sign_in(browser, link)
        await page.get_by_role("link", name="Caseload").click()
        await page.get_by_role("link", name=case_id).click()
        assert await page.locator("h1").inner_text() == f"Case {case_id}"

        chart = page.get_by_role("img", name="Wellbeing at each check-in")
        await chart.wait_for()
        assert await chart.locator("circle").count() == 3
        table = page.get_by_role("table", name="The same figures as a table")
        cells = await table.locator("tbody td:nth-child(2)").all_inner_texts()
        assert cells == ["2", "3", "4"]  # the chart's text alternative

        await page.get_by_label("Date and time, in the returnee's time zone").fill(
            "2026-12-01T14:30")
        await page.get_by_label("Place, or an https:// link").fill("Community centre")
        await page.get_by_role("button", name="Schedule", exact=True).click()
        await page.get_by_role("status").wait_for()
        assert "scheduled" in await page.get_by_role("status").inner_text()
        session_row = page.locator("table.sessions tbody tr").first
        text = await session_row.inner_text()
        assert f"{case_id}-S1" in text and "2:30" in text  # the returnee's time, in Dakar
        await expect(session_row.locator("time[data-local]")).to_contain_text("3:30")  # Berlin
        notes = [n for _, n in Inbox(desk.app.settings.data_dir,
                                     ShardCipher(desk.app.key)).take()]
        assert {"type": "session", "kind": "scheduled",
                "session_id": f"{case_id}-S1"} in notes
        assert "case_viewed" in [e.event for e in desk.app.audit.entries()]

        await page.get_by_role("button", name="Sign out").click()
        await page.get_by_role("status").wait_for()
        assert "signed out" in await page.get_by_role("status").inner_text()
        await page.goto(desk.url + f"/cases/{case_id}")
        assert page.url.startswith(desk.url + "/signin")
        # The link was used: opening it again signs nobody in.
        again = await sign_in(browser, link)
        assert "was used already" in await again.get_by_role("alert").inner_text()
        await page.context.close()
        await again.context.close()


async def test_a_second_worker_cannot_open_the_first_workers_case(tmp_path, browser):
    with serve_desk(tmp_path / "data", SimClock(START)) as desk:
        mine, theirs = _seed(desk)
        page = await sign_in(browser, desk.link_for(OTHER))
        response = await page.goto(desk.url + f"/cases/{mine}")
        assert response.status == 404
        assert mine not in await page.locator("main").inner_text()
        await page.goto(desk.url + "/cases")
        caseload = await page.locator("main").inner_text()
        assert theirs in caseload and mine not in caseload
        response = await page.goto(desk.url + f"/cases/{theirs}")
        assert response.status == 200
        await page.context.close()


async def test_a_form_without_its_csrf_token_is_refused(tmp_path, browser):
    with serve_desk(tmp_path / "data", SimClock(START)) as desk:
        case_id, _ = _seed(desk)
        followup = desk.app.conversations.followup
        alert = followup.raise_alert(case_id, "high", ("no_shelter",), "consent", "no bed",
                                     START)
        page = await sign_in(browser, desk.link_for(WORKER))
        form = page.locator(f"form[action$='/{alert['alert_id']}/ack']")
        await form.locator("input[name=csrf]").evaluate("el => el.remove()")
        async with page.expect_response(lambda r: r.request.method == "POST") as answer:
            await form.get_by_role("button").click()
        assert (await answer.value).status == 403
        assert "security token" in await page.get_by_role("alert").inner_text()
        case = desk.app.conversations.registry.case(case_id)
        assert case.alerts[0]["status"] == "open"
        await page.context.close()


async def test_the_desk_in_arabic_is_laid_out_right_to_left(tmp_path, browser):
    with serve_desk(tmp_path / "data", SimClock(START)) as desk:
        case_id, _ = _seed(desk)
        desk.app.conversations.registry.add_caseworker(WORKER, "Nadia", language="ar")
        desk.app.conversations.followup.set_plan(case_id, date(2026, 11, 1), None, None)
        page = await sign_in(browser, desk.link_for(WORKER), locale="ar")
        html = page.locator("html")
        assert await html.get_attribute("dir") == "rtl"
        assert await html.get_attribute("lang") == "ar"
        assert "التنبيهات" in await page.locator("h1").inner_text()
        await page.context.close()


async def test_the_desk_works_by_keyboard_and_every_control_has_a_label(tmp_path, browser):
    with serve_desk(tmp_path / "data", SimClock(START)) as desk:
        case_id, _ = _seed(desk)
        alert = desk.app.conversations.followup.raise_alert(
            case_id, "urgent", ("severe_distress",), "vital", "words", START)
        page = await sign_in(browser, desk.link_for(WORKER))
        for path in ("/alerts", "/cases", f"/cases/{case_id}", "/security"):
            await page.goto(desk.url + path)
            unlabelled = await page.evaluate("""() => [...document.querySelectorAll(
                'input:not([type=hidden]), select, textarea, button')].filter(el =>
                !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.textContent.trim()).map(el => el.outerHTML)""")
            assert unlabelled == [], (path, unlabelled)
        await page.goto(desk.url + "/alerts")
        button = f"Acknowledge {case_id}"
        for _ in range(40):  # Tab through the page to the button, as a keyboard user does
            await page.keyboard.press("Tab")
            focused = await page.evaluate("() => document.activeElement.textContent.trim()")
            if " ".join(focused.split()) == button:
                break
        else:
            raise AssertionError("the Acknowledge button cannot be reached by Tab")
        await page.keyboard.press("Enter")
        await page.get_by_role("status").wait_for()
        stored = desk.app.conversations.registry.case(case_id).alert(alert["alert_id"])
        assert stored["status"] == "acknowledged"
        await page.context.close()
