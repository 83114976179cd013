"""A check-in question changed in a deployment's own copy of the questions reaches a
returnee on Telegram, through the real framework (both), with the deployment's translation."""

from __future__ import annotations

from pathlib import Path

from counsel_bot.cli.main import main
from tests.deployments import senegal, translate
from tests.telegram.conftest import SimClock, button_data, join, start_bot, stop_bot
from tests.telegram.test_care_e2e import START

WORKER, RETURNEE = 8101, 8103
ASKED = "How have you been sleeping this week?"
ASKED_FR = "Comment avez-vous dormi cette semaine ?"
NEED_FR = "École des enfants"


def office_changes_the_checkin(tmp_path: Path) -> Path:
    """The documented steps: copy the shipped questions, edit, extract, translate."""
    config = senegal(tmp_path)
    folder = config.parent
    assert main(["deployment", "copy-flow", str(folder), "questions"]) == 0
    own = folder / "dialogs" / "questions.yaml"
    text = own.read_text(encoding="utf-8")
    text = text.replace("    question: How are you doing today?", f"    question: {ASKED}")
    text = text.replace("        - {code: family, label: Family}",
                        "        - {code: family, label: Family}\n"
                        "        - {code: school, label: Children's school}")
    own.write_text(text, encoding="utf-8")
    assert main(["deployment", "catalogues", str(folder)]) == 0
    translate(folder, "fr", {ASKED: ASKED_FR, "Children's school": NEED_FR})
    translate(folder, "ar", {ASKED: "كيف كان نومك هذا الأسبوع؟",
                             "Children's school": "مدرسة الأطفال"})
    return config


async def test_a_changed_checkin_question_reaches_the_returnee(fake_bot_api, tmp_path,
                                                               framework):
    clock = SimClock(START)
    bot = await start_bot(fake_bot_api, tmp_path, framework, "polling", clock=clock,
                          config=office_changes_the_checkin(tmp_path))
    api = fake_bot_api
    try:
        registry = bot.app.conversations.registry
        registry.add_caseworker(WORKER, "Awa", language="fr")
        case, invitation = registry.open_case(WORKER, "SN", "fr", "Africa/Dakar")
        await join(bot, RETURNEE, invitation.code, "fr")
        bot.app.conversations.followup.set_plan(case.case_id, START.date(), None, None)
        bot.runner.care.plan_checkins(case.case_id)
        scheduler = bot.runner.scheduler
        first = min(i.due for i in scheduler.tagged(f"checkins:{case.case_id}"))
        await bot.settle()
        mark = api.mark()
        clock.now = first
        await scheduler.tick()
        (question,) = await bot.replies(RETURNEE, since=mark)
        assert question["text"] == ASKED_FR
        await bot.press(RETURNEE, button_data(question, "4, bien"))
        await bot.settle()
        needs = api.messages_to(RETURNEE)[-1]
        await bot.press(RETURNEE, button_data(needs, NEED_FR))
        await bot.settle()
        assert button_data(api.messages_to(RETURNEE)[-1], f"✓ {NEED_FR}")
        tr = bot.app.context.translator("fr")
        for label in (tr("Done"), tr("I am safe"), tr("Skip")):
            await bot.press(RETURNEE, button_data(api.messages_to(RETURNEE)[-1], label))
            await bot.settle()
        recorded = registry.case(case.case_id).checkins[-1]
        assert recorded["wellbeing"] == 4 and recorded["needs"] == ["school"]
    finally:
        await stop_bot(bot)
