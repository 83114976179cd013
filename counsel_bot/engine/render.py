"""Turn a step into the message a person sees, in their language."""

from __future__ import annotations

import hashlib
from datetime import datetime

from counsel_bot.config.deployment import Country
from counsel_bot.engine.context import EngineContext
from counsel_bot.engine.dialogs import Step
from counsel_bot.engine.effects import Button, Send
from counsel_bot.engine.state import Conversation
from counsel_bot.i18n.catalogs import Translator, language_name

# Steps that show the deployment's own facts, which carry the sample banner in a sample.
_CONFIG_STEP_TYPES = frozenset({"services", "rumours", "contact"})


def _values(state: Conversation, ctx: EngineContext, tr: Translator) -> dict[str, object]:
    deployment = ctx.deployment
    country = deployment.country(state.country)
    return {
        "organisation": tr.content(deployment.organisation),
        "retention_period": tr.months(deployment.retention_months),
        "country": tr.content(country.name),
    }


def _with_banner(text: str, step: Step, ctx: EngineContext, tr: Translator) -> str:
    shows_config = step.type in _CONFIG_STEP_TYPES or "{" in step.text
    if ctx.deployment.sample and shows_config:
        return f"{text}\n\n{tr(ctx.dialogs.system['sample_banner'])}"
    return text


def consent_text(step: Step, state: Conversation, ctx: EngineContext) -> str:
    """The exact consent text shown, including the vital-interest note where it applies."""
    tr = ctx.translator(state.language)
    text = tr(step.text, **_values(state, ctx, tr))
    note = step.texts.get("vital_interest_note")
    if note and ctx.deployment.vital_interest_alerts:
        text = f"{text}\n\n{tr(note)}"
    learning = step.texts.get("learning_note")
    if learning:
        text = f"{text}\n\n{tr(learning)}"
    return text


def text_version(text: str) -> str:
    """A short, stable version of the exact text a person was shown."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def contact_lines(ctx: EngineContext, country: Country, language: str) -> str:
    """A country's emergency contacts, one per line, numbers kept left-to-right."""
    tr = ctx.translator(language)
    return "\n".join(f"• {tr.content(c.name)}: {tr.ltr(c.phone)}"
                     for c in country.emergency_contacts)


def _country_body(step: Step, state: Conversation, ctx: EngineContext, tr: Translator) -> str:
    country = ctx.deployment.country(state.country)
    ltr = tr.ltr
    if step.type == "services":
        if not country.services:
            return tr(step.get("empty"))
        return "\n\n".join(
            f"• {tr.content(s.name)}\n{tr.content(s.description)}\n"
            f"{tr(ctx.dialogs.system['service_limits'], limits=tr.content(s.limits))}\n"
            f"{tr(ctx.dialogs.system['service_conditions'], conditions=tr.content(s.conditions))}"
            for s in country.services
        )
    if step.type == "rumours":
        if not country.rumours:
            return tr(step.get("empty"))
        return "\n\n".join(
            f"{tr(ctx.dialogs.system['rumour_line'], rumour=tr.content(r.rumour))}\n"
            f"{tr(ctx.dialogs.system['fact_line'], fact=tr.content(r.fact))}"
            for r in country.rumours
        )
    office = country.office
    emergency = contact_lines(ctx, country, state.language)
    return (
        f"{tr.content(office.name)}\n{tr.content(office.address)}\n{ltr(office.phone)}\n"
        f"{tr.content(office.hours)}\n\n"
        f"{tr(ctx.dialogs.system['emergency_heading'])}\n{emergency}"
    )


def step_message(step: Step, state: Conversation, ctx: EngineContext) -> Send:
    """The message for a step, with the buttons of its choices."""
    tr = ctx.translator(state.language)
    if step.type == "consent":
        text = consent_text(step, state, ctx)
    else:
        text = tr(step.text, **_values(state, ctx, tr))
    if step.type in _CONFIG_STEP_TYPES:
        text = f"{text}\n\n{_country_body(step, state, ctx, tr)}"
    text = _with_banner(text, step, ctx, tr)
    return Send(text=text, buttons=_buttons(step, state, ctx, tr), rtl=tr.rtl,
                protect=step.type == "privacy")


def _buttons(
    step: Step, state: Conversation, ctx: EngineContext, tr: Translator
) -> tuple[tuple[Button, ...], ...]:
    key = step.key
    if step.type == "menu":
        rows = [(Button(tr(o.label), f"{key}:{i}"),) for i, o in enumerate(step.options)]
        rows.append((Button(tr(ctx.dialogs.system["help_now"]), "help:now"),))
        return tuple(rows)
    if step.type == "choose_language":
        languages = list(ctx.deployment.languages)
        if state.language in languages:  # the channel's guess comes first
            languages.remove(state.language)
            languages.insert(0, state.language)
        return tuple((Button(language_name(lang), f"{key}:{lang}"),) for lang in languages)
    if step.type == "consent":
        return ((Button(tr(step.get("accept")), f"{key}:yes"),
                 Button(tr(step.get("decline")), f"{key}:no")),)
    if step.type == "privacy":
        return _privacy_buttons(step, state, tr)
    if step.type == "write_to_caseworker":
        return ((Button(tr(ctx.dialogs.system["cancel"]), f"{key}:cancel"),),)
    return ()


def _privacy_buttons(
    step: Step, state: Conversation, tr: Translator
) -> tuple[tuple[Button, ...], ...]:
    rows = []
    for purpose, label in step.get("purposes").items():
        name = tr(label)
        if state.has_consent(purpose):
            rows.append((Button(tr(step.get("withdraw"), purpose=name),
                                f"{step.key}:withdraw:{purpose}"),))
        else:
            rows.append((Button(tr(step.get("give"), purpose=name),
                                f"{step.key}:give:{purpose}"),))
    rows.append((Button(tr(step.get("close")), f"{step.key}:close"),))
    return tuple(rows)


def privacy_overview(step: Step, state: Conversation, ctx: EngineContext) -> Send:
    """Each consent with its state and date, and a one-step way to change it."""
    tr = ctx.translator(state.language)
    lines = [tr(step.text)]
    for purpose, label in step.get("purposes").items():
        name = tr(label)
        answer = state.consents.get(purpose)
        if answer is None:
            lines.append("• " + tr(step.get("never"), purpose=name))
            continue
        date = tr.date(datetime.fromisoformat(answer.at), state.timezone or "UTC")
        kind = "granted" if answer.granted else ("withdrawn" if answer.withdrawal else "declined")
        lines.append("• " + tr(step.get(kind), purpose=name, date=date))
    return Send(text="\n".join(lines), buttons=_privacy_buttons(step, state, tr), rtl=tr.rtl,
                protect=True)
