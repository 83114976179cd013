"""Language detection: time and memory of counsel_bot/i18n/detect.py on one sentence per
language (figures go into docs/translations.md, never into tests).

    python benchmarks/language_detection.py
"""

from __future__ import annotations

import time

from counsel_bot.i18n.catalogs import SUPPORTED_LANGUAGES
from counsel_bot.i18n.detect import LanguageDetector

SAMPLES = {
    "en": "I need some help with my documents please",
    "fr": "Bonjour, j'ai besoin d'aide pour mes papiers",
    "ar": "مرحبا، أحتاج إلى مساعدة في أوراقي من فضلك",
    "fa": "سلام، من برای مدارکم به کمک نیاز دارم",
    "es": "Hola, necesito ayuda con mis documentos",
    "ru": "Здравствуйте, мне нужна помощь с документами",
    "ps": "سلام، زه د خپلو اسنادو لپاره مرستې ته اړتیا لرم",
    "ur": "السلام علیکم، مجھے اپنے کاغذات کے لیے مدد چاہیے",
    "uk": "Добрий день, мені потрібна допомога з документами",
    "so": "Salaan, waxaan u baahanahay caawimaad dukumiintiyadayda",
    "ti": "ሰላም፡ ንሰነዳተይ ሓገዝ የድልየኒ ኣሎ",
    "bn": "নমস্কার, আমার কাগজপত্রের জন্য সাহায্য দরকার",
}


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 1e6


def main() -> None:
    before = rss_mb()
    detector = LanguageDetector(SUPPORTED_LANGUAGES)
    t0 = time.perf_counter()
    detector.detect(SAMPLES["en"])
    print(f"first detect (loads models): {1000 * (time.perf_counter() - t0):.0f} ms, "
          f"RSS +{rss_mb() - before:.0f} MB")
    right, times = 0, []
    for lang, text in SAMPLES.items():
        detector.detect.cache_clear()
        t = time.perf_counter()
        found = detector.detect(text)
        times.append(time.perf_counter() - t)
        right += found == lang
        print(lang, found)
    times.sort()
    print(f"{right}/{len(SAMPLES)} right; per text median {1000 * times[len(times) // 2]:.2f} ms,"
          f" max {1000 * times[-1]:.2f} ms; RSS +{rss_mb() - before:.0f} MB")


if __name__ == "__main__":
    main()
