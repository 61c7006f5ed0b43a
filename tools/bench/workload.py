# SPDX-License-Identifier: GPL-2.0
"""Allocation-heavy Python workload for `make bench` (tools/bench/run.sh).

Builds and discards many small objects the way real Python programs do:
dicts of records with string keys, lists of tuples, string formatting and
joining, a word-count over generated text, and a sort. Run it with
PYTHONMALLOC=malloc so that every small object goes to the (preloaded)
malloc; under the default pymalloc, CPython's own obmalloc serves objects
up to 512 bytes and the preloaded allocator sees only the larger ones.

With --karena, pymalloc's arenas come from karena (the karena package,
PYTHONPATH=build/python after make python), enabled before the work.

    python3 workload.py [--karena] [scale]
    -> bench=python scale=1 seconds=1.234 checksum=...
"""
import sys
import time


def records(n):
    out = []
    for i in range(n):
        out.append({"id": i, "name": "user%d" % i, "tags": ["t%d" % (i % 7), "x"],
                    "score": i * 0.5, "pos": (i % 100, i // 100)})
    return out


def word_count(n):
    words = ["w%d" % (i * 2654435761 % 5000) for i in range(n)]
    text = " ".join(words)
    counts = {}
    for w in text.split():
        counts[w] = counts.get(w, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]


def churn(rounds, n):
    keep = []
    total = 0
    for r in range(rounds):
        batch = [("k%d" % i, [i, str(i)], {"r": r}) for i in range(n)]
        keep.append(batch[r % n])  # one long-lived survivor per round
        total += sum(len(b[0]) for b in batch)
    return total + len(keep)


def main():
    args = [a for a in sys.argv[1:] if a != "--karena"]
    if "--karena" in sys.argv[1:]:
        import karena
        karena.enable()
    scale = float(args[0]) if args else 1.0
    t0 = time.perf_counter()
    check = 0
    for _ in range(3):
        recs = records(int(100000 * scale))
        index = {r["name"]: r for r in recs}
        check += len(index) + sum(len(r["tags"]) for r in recs)
        del recs, index
    check += len(word_count(int(300000 * scale)))
    check += churn(int(40 * scale), 5000)
    t = time.perf_counter() - t0
    print("bench=python scale=%g seconds=%.3f checksum=%d" % (scale, t, check))


main()
