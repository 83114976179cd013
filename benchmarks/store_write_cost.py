"""Cost of writing one shard as the store grows (the "flat cost" requirement).

Fills a fresh encrypted store with N small case shards and times a transaction that
updates ONE random existing shard (fsync included), for each N. Prints median/p95 per
size and the ratio largest/smallest (the requirement: at most 1.5).

    python benchmarks/store_write_cost.py [--sizes 200,2000,20000] [--writes 300] [--dir D]

Filling uses the same code path without fsync (``durable=False``) to stay fast; the
measured writes are fully durable.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from counsel_bot.store import TinyDBStore


def case_doc(i: int) -> dict[str, dict]:
    """Tables of a realistic small case shard (~1.5 KB of JSON)."""
    return {
        "case": {
            "code": f"K{i:05d}",
            "status": "open",
            "language": "fr",
            "created": "2025-01-12T10:22:00Z",
            "caseworker": "cw:17",
            "country_of_return": "MA",
            "consent": {"data": True, "contact": True, "at": "2025-01-12T10:23:10Z"},
            "tags": ["housing", "documents", "health"],
        },
        "notes": [
            {"at": f"2025-02-{d:02d}T09:00:00Z", "by": "cw:17", "text": "Suivi par téléphone. " * 4}
            for d in range(1, 5)
        ],
        "screening": {"q1": 2, "q2": 1, "q3": 0, "q4": 3, "score": 6, "version": "phq4-fr-1"},
    }


def fill(store: TinyDBStore, start: int, stop: int) -> None:
    for i in range(start, stop):
        doc = case_doc(i)
        with store.transaction(f"case:{i}") as db:
            db.table("case").insert(doc["case"])
            db.table("notes").insert_multiple(doc["notes"])
            db.table("screening").insert(doc["screening"])


def measure(store: TinyDBStore, size: int, writes: int, rng: random.Random) -> list[float]:
    """Seconds per one-shard update transaction, over ``writes`` random shards."""
    times = []
    for n in range(writes + 10):
        key = f"case:{rng.randrange(size)}"
        t0 = time.perf_counter()
        with store.transaction(key) as db:
            db.table("case").update({"status": "follow-up", "updated": n})
        elapsed = time.perf_counter() - t0
        if n >= 10:  # warm-up
            times.append(elapsed)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,2000,20000", help="comma-separated shard counts")
    parser.add_argument("--writes", type=int, default=300, help="timed writes per size")
    parser.add_argument("--dir", type=Path, default=None, help="parent dir (default: a temp dir)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    rng = random.Random(1234)
    key = os.urandom(32)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="store-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        filler = TinyDBStore(data_dir, key, durable=False)
        store = TinyDBStore(data_dir, key)
        print(f"data folder: {data_dir} ({os.uname().sysname}, fsync on for timed writes)")
        print(f"{'shards':>8} {'fill s':>7} {'median ms':>10} {'p95 ms':>8} {'mean ms':>8}")
        results: dict[int, tuple[float, float]] = {}
        filled = 0
        for size in sizes:
            t0 = time.perf_counter()
            fill(filler, filled, size)
            os.sync()
            fill_s = time.perf_counter() - t0
            filled = size
            times = measure(store, size, args.writes, rng)
            med, p95 = statistics.median(times), percentile(times, 0.95)
            results[size] = (med, p95)
            mean = statistics.fmean(times)
            print(
                f"{size:>8} {fill_s:>7.1f} {med * 1e3:>10.3f} {p95 * 1e3:>8.3f} {mean * 1e3:>8.3f}"
            )
        lo, hi = sizes[0], sizes[-1]
        ratio = results[hi][0] / results[lo][0]
        ratio95 = results[hi][1] / results[lo][1]
        verdict = "OK" if ratio <= 1.5 else "ABOVE 1.5"
        print(f"ratio {hi}/{lo}: median {ratio:.2f} ({verdict}), p95 {ratio95:.2f}")


if __name__ == "__main__":
    main()
