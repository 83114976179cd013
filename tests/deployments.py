"""A deployment for a non-sample country made as a country office would: `deployment init`,
its facts filled in (in French), then translated through its own catalogues."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po, write_po

from counsel_bot.cli.main import main
from counsel_bot.i18n.catalogs import deployment_po_path

# The test's invented facts, in French (FILL IN marker -> value), and their translations.
FACTS = {
    "organisation: \"FILL IN: the organisation's name\"": "organisation: Programme Retour Test",
    "\"FILL IN: the office's name\"": "Bureau de Dakar",
    "\"FILL IN: street, town\"": "12 rue Exemple, Dakar",
    "\"FILL IN: the office's phone number, with the country code\"": '"+221 33 000 00 00"',
    "\"FILL IN: the opening days and hours\"": "Du lundi au vendredi, de 9 h à 17 h",
    "\"FILL IN: who answers (for example: the police)\"": "Police secours",
    "\"FILL IN: the number\"": '"17"',
    "\"FILL IN: the service's name\"": "Accueil à l'aéroport",
    "\"FILL IN: what the service gives\"": "Un accueil et une orientation le jour de l'arrivée.",
    "\"FILL IN: what it does not cover\"": "Seulement à l'aéroport de Dakar.",
    "\"FILL IN: who can have it\"": "Pour les personnes inscrites au programme.",
    "\"FILL IN: what people say\"": "Tout le monde reçoit de l'argent au retour.",
    "\"FILL IN: what is true\"": "L'aide dépend de votre situation.",
}
ARABIC = {
    "Programme Retour Test": "برنامج العودة التجريبي",
    "Sénégal": "السنغال",
    "Bureau de Dakar": "مكتب داكار",
    "12 rue Exemple, Dakar": "12 شارع المثال، داكار",
    "Du lundi au vendredi, de 9 h à 17 h": "من الاثنين إلى الجمعة، من 9 إلى 17",
    "Police secours": "شرطة النجدة",
    "Accueil à l'aéroport": "الاستقبال في المطار",
    "Un accueil et une orientation le jour de l'arrivée.": "استقبال وتوجيه يوم الوصول.",
    "Seulement à l'aéroport de Dakar.": "في مطار داكار فقط.",
    "Pour les personnes inscrites au programme.": "للمسجلين في البرنامج.",
    "Tout le monde reçoit de l'argent au retour.": "كل من يعود يحصل على المال.",
    "L'aide dépend de votre situation.": "تعتمد المساعدة على وضعك.",
}
ENGLISH = {
    "Programme Retour Test": "Test Return Programme", "Sénégal": "Senegal",
    "Bureau de Dakar": "Dakar Office", "12 rue Exemple, Dakar": "12 Example Street, Dakar",
    "Du lundi au vendredi, de 9 h à 17 h": "Monday to Friday, 9:00 to 17:00",
    "Police secours": "Police emergency", "Accueil à l'aéroport": "Airport reception",
    "Un accueil et une orientation le jour de l'arrivée.": "A welcome and advice on arrival.",
    "Seulement à l'aéroport de Dakar.": "Only at Dakar airport.",
    "Pour les personnes inscrites au programme.": "For people in the programme.",
    "Tout le monde reçoit de l'argent au retour.": "Everyone who returns gets money.",
    "L'aide dépend de votre situation.": "Assistance depends on your situation.",
}


def fill_facts(folder: Path) -> None:
    """What the office writes in place of each FILL IN."""
    for path in (folder / "deployment.yaml", folder / "countries" / "SN.yaml"):
        text = path.read_text(encoding="utf-8")
        for marker, value in FACTS.items():
            text = text.replace(marker, value)
        path.write_text(text, encoding="utf-8")


def translate(folder: Path, lang: str, translations: dict[str, str]) -> None:
    """What a translator does in the catalogue (with Poedit, say): fill each msgstr."""
    path = deployment_po_path(folder, lang)
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    for message in catalog:
        if message.id in translations:
            message.string = translations[message.id]
    with path.open("wb") as fh:
        write_po(fh, catalog)


def senegal(tmp_path: Path, languages: str = "fr,ar,en") -> Path:
    """The documented workflow: init, fill in, extract, translate. Returns deployment.yaml."""
    folder = tmp_path / "senegal"
    assert main(["deployment", "init", str(folder), "--country", "SN",
                 "--languages", languages]) == 0
    fill_facts(folder)
    assert main(["deployment", "catalogues", str(folder)]) == 0
    if "ar" in languages:
        translate(folder, "ar", ARABIC)
    if "en" in languages:
        translate(folder, "en", ENGLISH)
    return folder / "deployment.yaml"
