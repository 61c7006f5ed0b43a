# SPDX-License-Identifier: GPL-2.0
"""A Python program that frees most of its objects, for `make bench`: its
RSS, with pymalloc's arenas from CPython's own mmap or from karena.

Builds about TOTAL MiB of small objects (records: a dict, a tuple, a str)
in chunks, then drops nine chunks in ten, so that most arenas empty out
while a tenth of the objects live on; reports RSS at the peak and after
the free, and the arenas pymalloc held. With --karena the package is
enabled first (PYTHONPATH=build/python, make python); with --holders PATH
(in the VM) the process's line of `PATH --json holders` is read at the
peak and after the free, as the module counts it.

    python3 python_rss.py [--karena] [--holders KARENACTL] [total=MiB]
    -> bench=python-rss arenas=mmap|karena alloc_s=... rss_peak_mb=...
       rss_after_free_mb=... [arenas_peak=... arenas_after_free=...
       granted=... released=... holder_peak=... holder_after_free=...]
"""
import gc
import json
import os
import subprocess
import sys
import time


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def holder(karenactl):
    """(arenas, peak) of this process as `karenactl holders` shows it."""
    out = subprocess.run([karenactl, "--json", "holders"],
                         capture_output=True, text=True).stdout
    for h in json.loads(out or "[]"):
        if h["pid"] == os.getpid():
            return h["arenas"], h["peak"]
    return 0, 0


def main():
    args = sys.argv[1:]
    use_karena = "--karena" in args
    karenactl = args[args.index("--holders") + 1] if "--holders" in args else None
    total = 128
    for a in args:
        if a.startswith("total="):
            total = int(a[6:])
    if use_karena:
        import karena
        karena.enable()
    per_chunk = 2000   # records of ~400 bytes of pymalloc blocks each
    nchunks = total * 1024 * 1024 // (per_chunk * 400)
    t0 = time.perf_counter()
    chunks = []
    for c in range(nchunks):
        chunks.append([{"id": i, "pos": (c, i), "name": "r%d.%d" % (c, i)}
                       for i in range(per_chunk)])
    alloc_s = time.perf_counter() - t0
    peak = rss_mb()
    out = {"arenas": "karena" if use_karena else "mmap",
           "alloc_s": "%.3f" % alloc_s, "rss_peak_mb": "%.1f" % peak}
    if use_karena:
        out["arenas_peak"] = karena.stats()["arenas_held"]
    if karenactl:
        out["holder_at_peak"] = holder(karenactl)[0]
    chunks = chunks[::10]  # nine chunks in ten go
    gc.collect()
    out["rss_after_free_mb"] = "%.1f" % rss_mb()
    out["kept_chunks"] = len(chunks)
    if use_karena:
        st = karena.stats()
        out.update(arenas_after_free=st["arenas_held"],
                   granted=st["arenas_granted"], released=st["arenas_released"],
                   denials=st["denials"], backend=st["backend"])
    if karenactl:
        out["holder_after_free"], out["holder_peak"] = holder(karenactl)
    print("bench=python-rss " + " ".join("%s=%s" % kv for kv in out.items()))


main()
