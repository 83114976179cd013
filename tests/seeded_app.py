"""A bot application with a case and an audit entry in its store, for the doctor's tests."""

from __future__ import annotations

from counsel_bot.bootstrap import App, build_app
from counsel_bot.config.settings import Settings
from tests.conftest import shipped_context


def app_with_a_case(settings: Settings, worker: int) -> tuple[App, str]:
    """The app on `settings` (the caller closes it) and the id of its one case, opened by
    case worker `worker` and viewed once in the audit log."""
    app = build_app(settings, context=shipped_context())
    try:
        app.conversations.registry.add_caseworker(worker, "Nadia", language="en")
        case, _invitation = app.conversations.registry.open_case(worker, "XS", "fr",
                                                                 "Europe/Paris")
        app.audit.record("admin", "case_viewed", why="casework",
                         details={"case_id": case.case_id})
    except BaseException:
        app.close()
        raise
    return app, case.case_id
