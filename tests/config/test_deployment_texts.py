"""A deployment's own texts in every enabled language: `deployment init`, its catalogues,
`config check`, `i18n-check` and start-up, through the real command line."""

from __future__ import annotations

from pathlib import Path

from counsel_bot.i18n.catalogs import deployment_po_path
from tests.config.test_config_cli import counsel_bot
from tests.deployments import senegal, translate

LIMITS = "Seulement à l'aéroport de Dakar."


def _drop(folder: Path, lang: str, msgid: str) -> None:
    translate(folder, lang, {msgid: ""})


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if text in line)


def test_init_scaffolds_a_deployment_that_is_refused_until_every_fact_is_filled(tmp_path):
    folder = tmp_path / "sn"
    init = counsel_bot(tmp_path, "deployment", "init", str(folder), "--country", "SN",
                       "--languages", "fr,wo,en")
    assert init.returncode == 0, init.stderr
    assert "not enabled: wo" in init.stdout
    for name in ("deployment.yaml", "countries/SN.yaml", "babel.cfg", "locales/deployment.pot",
                 "locales/fr/LC_MESSAGES/deployment.po", "locales/en/LC_MESSAGES/deployment.po"):
        assert (folder / name).is_file(), name
    deployment = (folder / "deployment.yaml").read_text(encoding="utf-8")
    assert "languages: [fr, en]" in deployment and "source_language: fr" in deployment
    country = folder / "countries" / "SN.yaml"
    assert 'name: "Sénégal"' in country.read_text(encoding="utf-8")  # from CLDR
    assert "timezones: [Africa/Dakar]" in country.read_text(encoding="utf-8")
    check = counsel_bot(tmp_path, "config", "check",
                        env_extra={"COUNSEL_BOT_CONFIG": str(folder / "deployment.yaml")})
    assert check.returncode == 1
    line = _line_of(country, "limits:")
    assert (f'{country}:{line}: services[0].limits: still says "FILL IN": write the verified '
            "value here; allowed: what the service does not cover, not empty") \
        in check.stdout.splitlines()
    assert check.stdout.splitlines()[-1] == "13 problems in the configuration"


def test_a_filled_and_translated_deployment_passes_with_only_its_config_set(tmp_path):
    config = senegal(tmp_path)
    env = {"COUNSEL_BOT_CONFIG": str(config)}
    check = counsel_bot(tmp_path, "config", "check", env_extra=env)
    assert check.returncode == 0, check.stdout
    assert check.stdout.startswith(f"configuration: OK ({config}; countries: SN; "
                                   "languages: fr, ar, en)")
    assert "SAMPLE" not in check.stdout
    assert counsel_bot(tmp_path, "i18n-check", env_extra=env).returncode == 0


def test_a_missing_translation_is_named_by_file_key_and_language_and_stops_start_up(tmp_path):
    config = senegal(tmp_path)
    _drop(config.parent, "ar", LIMITS)
    env = {"COUNSEL_BOT_CONFIG": str(config)}
    country = config.parent / "countries" / "SN.yaml"
    named = (f"{country}:{_line_of(country, 'limits:')}: services[0].limits: no Arabic (ar) "
             f"translation in locales/ar/LC_MESSAGES/deployment.po for {LIMITS!r}")
    check = counsel_bot(tmp_path, "config", "check", env_extra=env)
    assert check.returncode == 1
    assert check.stdout.splitlines() == [named, "1 problem in the configuration"]
    run = counsel_bot(tmp_path, "run", "--framework", "ptb", "--step-processes", "0",
                      env_extra={**env, "COUNSEL_BOT_TOKEN": "1:x",
                                 "COUNSEL_BOT_API_URL": "http://127.0.0.1:9"})
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        named, "counsel-bot: 1 problem in the configuration; nothing was started. "
        "Check again with: counsel-bot config check"]
    i18n = counsel_bot(tmp_path, "i18n-check", env_extra=env)
    assert i18n.returncode == 1 and named in i18n.stdout


def test_show_source_starts_and_still_names_each_untranslated_text(tmp_path):
    config = senegal(tmp_path)
    _drop(config.parent, "ar", LIMITS)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("missing_translations: refuse",
                                   "missing_translations: show_source"), encoding="utf-8")
    check = counsel_bot(tmp_path, "config", "check",
                        env_extra={"COUNSEL_BOT_CONFIG": str(config)})
    assert check.returncode == 0, check.stdout
    assert "services[0].limits: no Arabic (ar) translation" in check.stdout
    assert "(shown as written, with a note)" in check.stdout


def test_a_new_text_without_a_catalogue_entry_is_named_too(tmp_path):
    """A service added after the last extraction: i18n-check says the template is stale,
    and start-up names the new text for each language."""
    config = senegal(tmp_path)
    country = config.parent / "countries" / "SN.yaml"
    country.write_text(country.read_text(encoding="utf-8").replace(
        "rumours:", "  - name: Formation\n    description: Un cours.\n"
        "    limits: Pas d'argent.\n    conditions: Sur avis.\nrumours:"), encoding="utf-8")
    env = {"COUNSEL_BOT_CONFIG": str(config)}
    i18n = counsel_bot(tmp_path, "i18n-check", env_extra=env)
    assert "deployment.pot lacks 'Formation'" in i18n.stdout
    check = counsel_bot(tmp_path, "config", "check", env_extra=env)
    assert "services[1].name: no Arabic (ar) translation" in check.stdout
    assert "services[1].name: no English (en) translation" in check.stdout
    assert not deployment_po_path(config.parent, "fr").read_text(encoding="utf-8").count(
        "Formation")


def test_a_changed_question_in_the_deployments_flows_is_checked_like_its_facts(tmp_path):
    from tests.telegram.test_office_questions_e2e import ASKED, office_changes_the_checkin

    config = office_changes_the_checkin(tmp_path)
    env = {"COUNSEL_BOT_CONFIG": str(config)}
    assert counsel_bot(tmp_path, "config", "check", env_extra=env).returncode == 0
    translate(config.parent, "ar", {ASKED: ""})
    for command in (("config", "check"), ("i18n-check",)):
        result = counsel_bot(tmp_path, *command, env_extra=env)
        assert result.returncode == 1
        assert (f"questions.yaml:10 (questions.checkin.question): no العربية (ar) translation "
                f"for {ASKED!r}") in result.stdout
