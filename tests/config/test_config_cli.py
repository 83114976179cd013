"""`config check`, `demo` and `run` on a broken configuration, through the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from counsel_bot.config.resources import sample_deployment

BROKEN = {"vital_interest_alerts: true": 'vital_interest_alerts: "no"',
          "quiet_hours: {start: 21, end: 8}": "quite_hours: {start: 21, end: 8}",
          "  hour: 10": "  hour: 30"}


def counsel_bot(tmp_path: Path, *args: str, env_extra: dict[str, str] | None = None,
                stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COUNSEL_BOT_CONFIG"}
    env.update({"COUNSEL_BOT_DATA_DIR": str(tmp_path / "data"),
                "COUNSEL_BOT_KEY_FILE": str(tmp_path / "keys" / "key"), **(env_extra or {})})
    return subprocess.run([sys.executable, "-m", "counsel_bot.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def test_config_check_passes_the_sample_and_says_it_is_a_sample(tmp_path):
    result = counsel_bot(tmp_path, "config", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"configuration: OK ({sample_deployment()}; countries: XS")
    assert "this is a SAMPLE deployment" in result.stdout
    assert not (tmp_path / "data").exists()  # a check touches no data


def test_config_check_of_a_real_deployment_does_not_call_it_a_sample(tmp_path, configure):
    path = configure(deployment={"sample: true": "sample: false"},
                     country={"sample: true": "sample: false"})
    result = counsel_bot(tmp_path, "config", "check", "--config", str(path))
    assert result.returncode == 0, result.stdout
    assert "SAMPLE" not in result.stdout


def test_config_check_prints_every_problem_and_fails(tmp_path, configure):
    path = configure(deployment=BROKEN, country={"code: XS": "code: XT"})
    result = counsel_bot(tmp_path, "config", "check", "--config", str(path))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    xs = path.parent / "countries" / "XS.yaml"
    assert lines == [
        f'{path}:11: vital_interest_alerts: "no" is in quotes, so it is text, not true or '
        "false; allowed: true or false, without quotes",
        f"{path}:12: quite_hours: unknown key (did you mean quiet_hours?); the keys allowed "
        "here are: sample, organisation, languages, default_language, source_language, "
        "missing_translations, dialogs_dir, default_country, countries_dir, retention_months, "
        "erasure_days, vital_interest_alerts, quiet_hours, checkins, alert_deadlines_minutes",
        f"{path}:16: checkins.hour: 30 is out of range; allowed: a whole hour of the day, 0 to "
        "23 (local time of the returnee)",
        f"{xs}:4: code: \"XT\" is not the file's name; allowed: XS, as the file is named XS.yaml",
        "4 problems in the configuration",
    ]
    assert result.stderr == ""


def test_config_check_reads_COUNSEL_BOT_CONFIG(tmp_path, configure):
    path = configure(deployment={"  hour: 10": "  hour: 30"})
    result = counsel_bot(tmp_path, "config", "check", env_extra={"COUNSEL_BOT_CONFIG": str(path)})
    assert result.returncode == 1 and "checkins.hour: 30 is out of range" in result.stdout


def test_demo_refuses_to_start_with_the_same_lines(tmp_path, configure):
    path = configure(deployment=BROKEN)
    check = counsel_bot(tmp_path, "config", "check", "--config", str(path))
    demo = counsel_bot(tmp_path, "demo", "--lang", "fr", stdin="1\n",
                       env_extra={"COUNSEL_BOT_CONFIG": str(path)})
    assert demo.returncode == 2
    problems = check.stdout.splitlines()[:-1]
    assert len(problems) == 3
    assert demo.stderr.splitlines() == [
        *problems, "counsel-bot: 3 problems in the configuration; nothing was started. "
        "Check again with: counsel-bot config check"]
    assert "Traceback" not in demo.stderr and demo.stdout == ""
    assert not (tmp_path / "data").exists()


def test_run_refuses_to_start_before_reaching_telegram(tmp_path, configure):
    path = configure(deployment={"  hour: 10": "  hour: 30"})
    run = counsel_bot(tmp_path, "run", "--framework", "ptb", "--step-processes", "0",
                      env_extra={"COUNSEL_BOT_CONFIG": str(path), "COUNSEL_BOT_TOKEN": "1:x",
                                 "COUNSEL_BOT_API_URL": "http://127.0.0.1:9"})
    assert run.returncode == 2
    assert run.stderr.splitlines()[0].startswith(f"{path}:16: checkins.hour: 30 is out of range")
    assert "Traceback" not in run.stderr
