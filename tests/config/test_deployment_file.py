"""The deployment file and the country files: each unsafe value is refused, named by file,
line and key, with what is allowed instead; every problem is reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from counsel_bot.config.deployment import ConfigError, Problem, load_deployment, read_config
from counsel_bot.config.resources import sample_deployment
from counsel_bot.i18n.catalogs import SUPPORTED_LANGUAGES

SAMPLE_LANGUAGES = "languages: [" + ", ".join(SUPPORTED_LANGUAGES) + "]"  # as the sample writes it


def problems_of(path: Path) -> list[Problem]:
    config = read_config(path)
    assert (config.deployment is None) == bool(config.problems)
    return list(config.problems)


def only_problem(path: Path) -> Problem:
    (problem,) = problems_of(path)
    return problem


def test_the_shipped_sample_is_valid_and_marked_sample():
    config = read_config(sample_deployment())
    assert config.problems == ()
    assert config.deployment is not None and config.deployment.sample
    assert [p.name for p in config.files] == ["deployment.yaml", "XS.yaml"]


def test_a_valid_file_gives_the_deployment_its_values(configure):
    path = configure(deployment={
        SAMPLE_LANGUAGES: "languages: [fr, ar]",
        "default_language: en": "default_language: ar",
        "sample: true": "sample: false",
        "quiet_hours: {start: 21, end: 8}": "quiet_hours: {start: 22, end: 7}",
        "hour: 10": "hour: 9", "monthly: true": "monthly: false",
        "days: [3, 7, 14, 30]": "days: [2, 5]", "urgent: 15": "urgent: 10",
        "high: 240": "high: 120", "retention_months: 12": "retention_months: 24",
        "erasure_days: 30": "erasure_days: 14",
        "vital_interest_alerts: true": "vital_interest_alerts: false",
    }, country={"sample: true": "sample: false"})
    deployment = load_deployment(path)
    assert deployment.languages == ("fr", "ar") and deployment.default_language == "ar"
    assert not deployment.sample and not deployment.vital_interest_alerts
    assert deployment.quiet_hours == (22, 7)
    assert (deployment.checkin_hour, deployment.checkin_monthly, deployment.checkin_days) == \
        (9, False, (2, 5))
    assert (deployment.alert_deadline("urgent"), deployment.alert_deadline("high")) == (10, 120)
    assert (deployment.retention_months, deployment.erasure_days) == (24, 14)
    country = deployment.country("XS")
    assert country.timezones == ("Europe/Paris", "Africa/Abidjan")
    assert country.services[1].limits == "Up to 7 nights, subject to available places."
    assert [p.code for p in country.referral_partners] == ["xs-health", "xs-jobs"]


def test_left_out_keys_take_their_documented_defaults(configure):
    path = configure(deployment={
        SAMPLE_LANGUAGES + "\ndefault_language: en\n": "",
        "quiet_hours: {start: 21, end: 8}": "",
        "checkins:\n  days: [3, 7, 14, 30]": "checkins:\n  days: [3]",
        "  monthly: true                   # then once a month until the case closes\n": "",
    })
    deployment = load_deployment(path)
    assert deployment.languages == SUPPORTED_LANGUAGES
    assert deployment.default_language == "en"
    assert deployment.quiet_hours == (21, 8) and deployment.checkin_monthly


# -- the unsafe values of issue 10 ---------------------------------------------------------

@pytest.mark.parametrize("value", ['"no"', "'false'", '"yes"', "0", "1"])
def test_vital_interest_alerts_must_be_true_or_false_not_text(configure, value):
    path = configure(deployment={"vital_interest_alerts: true":
                                 f"vital_interest_alerts: {value}"})
    problem = only_problem(path)
    assert (problem.file, problem.key, problem.line) == (path, "vital_interest_alerts", 11)
    assert f"vital_interest_alerts: {value} is" in str(problem)
    assert "allowed: true or false, without quotes" in problem.message
    with pytest.raises(ConfigError):
        load_deployment(path)


def test_unquoted_no_is_false(configure):
    path = configure(deployment={"vital_interest_alerts: true": "vital_interest_alerts: no"})
    assert load_deployment(path).vital_interest_alerts is False


@pytest.mark.parametrize(("old", "new", "key", "suggestion"), [
    ("quiet_hours:", "quite_hours:", "quite_hours", "quiet_hours"),
    ("  hour: 10", "  houre: 10", "checkins.houre", "hour"),
    ("vital_interest_alerts: true", "vital_interests_alert: true", "vital_interests_alert",
     "vital_interest_alerts"),
])
def test_a_misspelt_key_is_refused_with_a_suggestion(configure, old, new, key, suggestion):
    path = configure(deployment={old: new})
    problem = only_problem(path)
    assert problem.key == key
    assert f"unknown key (did you mean {suggestion}?)" in problem.message
    assert "the keys allowed here are:" in problem.message


@pytest.mark.parametrize(("quiet", "key", "value"), [
    ("{start: 25, end: 8}", "quiet_hours.start", "25"),
    ("{start: 21, end: 24}", "quiet_hours.end", "24"),
    ("{start: -1, end: 8}", "quiet_hours.start", "-1"),
])
def test_quiet_hours_are_hours_of_the_day(configure, quiet, key, value):
    path = configure(deployment={"quiet_hours: {start: 21, end: 8}": f"quiet_hours: {quiet}"})
    problem = only_problem(path)
    assert str(problem).startswith(f"{path}:12: {key}: {value} is out of range; allowed: a "
                                   "whole hour of the day, 0 to 23")


def test_quiet_hours_that_start_when_they_end_are_refused(configure):
    path = configure(deployment={"quiet_hours: {start: 21, end: 8}":
                                 "quiet_hours: {start: 8, end: 8}"})
    problem = only_problem(path)
    assert problem.key == "quiet_hours" and "start and end are both 8" in problem.message


@pytest.mark.parametrize("hour", ["30", "24", "-1", "10.5", '"10"'])
def test_checkins_hour_is_an_hour_of_the_day(configure, hour):
    path = configure(deployment={"  hour: 10": f"  hour: {hour}"})
    problem = only_problem(path)
    assert (problem.key, problem.line) == ("checkins.hour", 16)
    assert "allowed: a whole hour of the day, 0 to 23" in problem.message


def test_the_default_language_must_be_enabled(configure):
    path = configure(deployment={SAMPLE_LANGUAGES: "languages: [fr, ar]"})
    problem = only_problem(path)  # default_language: en is still written
    assert problem.key == "default_language"
    assert '"en" is not among the languages enabled (fr, ar)' in problem.message


def test_an_empty_default_language_is_refused(configure):
    path = configure(deployment={"default_language: en": "default_language:"})
    problem = only_problem(path)
    assert problem.key == "default_language" and problem.message.startswith("is empty;")


# -- the other rules of the deployment file ------------------------------------------------

@pytest.mark.parametrize(("languages", "key", "said"), [
    ("[en, de]", "languages[1]", '"de" is not a language the bot has translations for'),
    ("[en, fr, en]", "languages", '"en" is listed twice'),
    ("[]", "languages", "is empty"),
    ("en", "languages", "en is not a list"),
])
def test_languages_are_supported_ones_each_once(configure, languages, key, said):
    path = configure(deployment={SAMPLE_LANGUAGES:
                                 f"languages: {languages}"})
    problem = only_problem(path)
    assert problem.key == key and said in problem.message
    assert "en, fr, ar, fa, es, ru" in problem.message  # what is allowed


def test_the_default_country_is_a_country_code(configure):
    path = configure(deployment={"default_country: XS": "default_country: xs"})
    problem = only_problem(path)  # not also "has no file": one problem, the first to fix
    assert problem.key == "default_country"
    assert problem.message.startswith("xs does not have the right form; allowed: two capital")


def test_the_default_country_must_have_a_file(configure):
    path = configure(deployment={"default_country: XS": "default_country: SN"})
    problem = only_problem(path)
    assert problem.key == "default_country"
    assert '"SN" has no file' in problem.message and "SN.yaml" in problem.message
    assert problem.message.endswith("allowed: one of XS")


def test_the_countries_folder_must_exist(configure):
    path = configure(deployment={"countries_dir: countries": "countries_dir: countrys"})
    problem = only_problem(path)
    assert problem.key == "countries_dir" and "is not a folder" in problem.message


@pytest.mark.parametrize(("days", "said"), [
    ("[3, 14, 7]", "7 comes after 14"),
    ("[3, 3, 7]", "3 comes after 3"),
    ("[0, 3]", "0 is out of range"),
    ("[]", "is empty"),
])
def test_checkin_days_are_positive_and_increasing(configure, days, said):
    path = configure(deployment={"days: [3, 7, 14, 30]": f"days: {days}"})
    problem = only_problem(path)
    assert problem.key.startswith("checkins.days") and said in problem.message
    assert "in increasing order" in problem.message


@pytest.mark.parametrize(("old", "new", "key"), [
    ("retention_months: 12", "retention_months: 0", "retention_months"),
    ("erasure_days: 30", "erasure_days: -5", "erasure_days"),
    ("urgent: 15", "urgent: 0", "alert_deadlines_minutes.urgent"),
    ("high: 240", "high: -1", "alert_deadlines_minutes.high"),
])
def test_periods_and_deadlines_are_positive(configure, old, new, key):
    path = configure(deployment={old: new})
    problem = only_problem(path)
    assert problem.key == key and "is out of range; allowed:" in problem.message
    assert "above 0" in problem.message


def test_an_urgent_alert_may_not_wait_longer_than_a_high_one(configure):
    path = configure(deployment={"urgent: 15": "urgent: 300"})
    problem = only_problem(path)
    assert problem.key == "alert_deadlines_minutes"
    assert "urgent (300) is longer than high (240)" in problem.message


@pytest.mark.parametrize(("old", "new", "said"), [
    ("organisation: Sample Reintegration Programme (SAMPLE)", 'organisation: "  "', "is empty"),
    ("organisation: Sample Reintegration Programme (SAMPLE)\n", "", "missing; required:"),
])
def test_the_organisation_is_required(configure, old, new, said):
    problem = only_problem(configure(deployment={old: new}))
    assert problem.key == "organisation" and said in problem.message


def test_a_key_written_twice_is_refused(configure):
    path = configure(deployment={"vital_interest_alerts: true":
                                 "vital_interest_alerts: true\nvital_interest_alerts: false"})
    problem = only_problem(path)
    assert problem.key == "vital_interest_alerts"
    assert "is written twice (lines 11 and 12)" in problem.message


def test_a_key_yaml_reads_as_true_is_refused(configure):
    path = configure(deployment={"sample: true": "sample: true\nyes: 1"})
    problem = only_problem(path)
    assert problem.key == "yes" and "is read as true or false" in problem.message


def test_a_file_that_is_not_yaml_is_named(configure):
    path = configure(deployment={"checkins:": "checkins: ["})
    problem = problems_of(path)[0]
    assert problem.file == path and "is not valid YAML" in problem.message


# -- country files -------------------------------------------------------------------------

def test_a_required_service_text_is_named_by_its_full_key(configure):
    path = configure(country={"limits: The programme does not pay for long-term treatment.":
                              'limits: ""'})
    problem = only_problem(path)
    assert problem.file == path.parent / "countries" / "XS.yaml"
    assert problem.key == "services[2].limits"
    assert problem.message == "is empty; allowed: what the service does not cover, not empty"


def test_a_missing_office_phone_and_a_misspelt_service_key(configure):
    path = configure(country={'  phone: "+000 000 0000 (SAMPLE)"\n': "",
                              "    conditions: If it is part": "    condition: If it is part"})
    problems = problems_of(path)
    assert [p.key for p in problems] == ["office.phone", "services[3].conditions",
                                         "services[3].condition"]
    assert problems[0].message.startswith("missing; required: a phone number, in quotes")
    assert "did you mean conditions?" in problems[2].message


def test_an_unquoted_phone_number_is_refused(configure):
    path = configure(country={'phone: "000 (SAMPLE)"': "phone: 0112"})
    problem = only_problem(path)
    assert problem.key == "emergency_contacts[0].phone"
    assert "0112 is read as a number, not text; write it in quotes" in problem.message


def test_a_country_needs_an_emergency_contact(configure):
    path = configure(country={"emergency_contacts:\n  - name: Emergency services (SAMPLE)\n"
                              '    phone: "000 (SAMPLE)"\n  - name: Crisis line (SAMPLE)\n'
                              '    phone: "+000 111 1111 (SAMPLE)"\n': "emergency_contacts: []\n"})
    problem = only_problem(path)
    assert problem.key == "emergency_contacts" and "is empty" in problem.message


@pytest.mark.parametrize(("zones", "key", "said"), [
    ("[Europe/Paris, Mars/Base]", "timezones[1]", '"Mars/Base" is not a known time zone'),
    ("[Europe/Paris, Europe/Paris]", "timezones", '"Europe/Paris" is listed twice'),
    ("[]", "timezones", "is empty"),
])
def test_timezones_are_iana_names(configure, zones, key, said):
    path = configure(country={"timezones: [Europe/Paris, Africa/Abidjan]": f"timezones: {zones}"})
    problem = only_problem(path)
    assert problem.key == key and said in problem.message
    assert "IANA time zone names" in problem.message


def test_a_country_file_is_named_after_its_code(configure):
    path = configure(country={"code: XS": "code: XT"})
    problems = problems_of(path)
    assert [(p.file.name, p.key) for p in problems] == [("XS.yaml", "code")]
    assert '"XT" is not the file\'s name; allowed: XS' in problems[0].message


def test_norway_is_not_false(configure):
    """YAML reads an unquoted NO as false: the code must be written in quotes."""
    path = configure(country={"code: XS": "code: NO"})
    problem = only_problem(path)
    assert problem.key == "code" and "NO is read as true or false" in problem.message


def test_referral_partner_codes_are_unique(configure):
    path = configure(country={"code: xs-jobs": "code: xs-health"})
    problem = only_problem(path)
    assert problem.key == "referral_partners" and '"xs-health" is listed twice' in problem.message


def test_referral_partner_codes_are_short_codes(configure):
    path = configure(country={"code: xs-jobs": "code: Jobs and more"})
    problem = only_problem(path)
    assert problem.key == "referral_partners[1].code"
    assert "Jobs and more does not have the right form; allowed: a short code" in problem.message


# -- everything at once ---------------------------------------------------------------------

def test_every_problem_in_every_file_is_reported_at_once(configure):
    path = configure(
        deployment={"vital_interest_alerts: true": 'vital_interest_alerts: "no"',
                    "quiet_hours: {start: 21, end: 8}": "quite_hours: {start: 25, end: 8}",
                    "  hour: 10": "  hour: 30",
                    SAMPLE_LANGUAGES: "languages: [fr]"},
        country={"timezones: [Europe/Paris, Africa/Abidjan]": "timezones: [Nowhere/Town]"},
        files={"countries/ZZ.yaml": "code: ZZ\nname: Zedland\n"})
    problems = problems_of(path)
    where = [(p.file.name, p.key) for p in problems]
    assert where == [
        ("deployment.yaml", "default_language"),
        ("deployment.yaml", "vital_interest_alerts"),
        ("deployment.yaml", "quite_hours"),
        ("deployment.yaml", "checkins.hour"),
        ("XS.yaml", "timezones[0]"),
        ("ZZ.yaml", "office"),
        ("ZZ.yaml", "emergency_contacts"),
    ]
    with pytest.raises(ConfigError) as raised:
        load_deployment(path)
    assert raised.value.problems == tuple(problems)
    assert str(raised.value).splitlines() == [str(p) for p in problems]
