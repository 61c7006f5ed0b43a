#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn build/bench/raw.txt into results.md and bench.png (tools/bench/run.sh).

raw.txt holds one line per measurement, space-separated key=value pairs:
the runner's (wl, alloc, run, rc, wall_s, maxrss_kb) followed by the
program's own bench=... line. Every cell of the tables is the median over
runs with the spread (min-max) beside it; ratios compare medians. Failed
runs (rc != 0) are left out of the statistics and counted in the cell.

bench.png has four panels: time and callgrind instructions relative to
mimalloc's median (log scale, each allocator a point at its median with a
bar from its fastest to its slowest run, so that a few per cent either
side of mimalloc can be read), the drain's RSS timeline, and pin's RSS
against the live bytes. A panel with nothing measured says so.

    python3 tools/bench/summarize.py build/bench
"""
import math
import os
import shlex
import statistics
import subprocess
import sys

ALLOCS = ["glibc", "jemalloc", "tcmalloc", "mimalloc", "karena"]
HOT_SIZES = [16, 64, 256, 512]


def parse(path):
    recs = []
    with open(path) as f:
        for line in f:
            rec = {}
            for tok in line.split():
                k, _, v = tok.partition("=")
                rec[k] = v
            if "wl" in rec:
                recs.append(rec)
    return recs


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


class Results:
    def __init__(self, recs):
        self.recs = recs
        self.allocs = [a for a in ALLOCS if any(r["alloc"] == a for r in recs)]

    def values(self, wl, alloc, metric, **match):
        """Every successful run's value of metric, for wl under alloc."""
        out = []
        for r in self.recs:
            if r["wl"] != wl or r["alloc"] != alloc or r.get("rc") != "0":
                continue
            if any(r.get(k) != str(v) for k, v in match.items()):
                continue
            v = num(r.get(metric))
            if v is not None:
                out.append(v)
        return out

    def failures(self, wl, alloc):
        return sum(1 for r in self.recs
                   if r["wl"] == wl and r["alloc"] == alloc and r.get("rc") != "0")

    def median(self, wl, alloc, metric, **match):
        v = self.values(wl, alloc, metric, **match)
        return statistics.median(v) if v else None


def fmt(x, digits=None):
    if x is None:
        return "-"
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1 if abs(x) >= 10 else 2
    return "%.*f" % (digits, x)


def cell(res, wl, alloc, metric, scale=1.0, spread=True, **match):
    v = [x * scale for x in res.values(wl, alloc, metric, **match)]
    fails = res.failures(wl, alloc)
    if not v:
        return "fail" if fails else "-"
    s = fmt(statistics.median(v))
    if spread and len(v) > 1:
        s += " (%s–%s)" % (fmt(min(v)), fmt(max(v)))
    if fails:
        s += " [%d failed]" % fails
    return s


def ratio(a, b):
    # a ratio of an excess that went negative (below the start) means nothing
    if a is None or b is None or b <= 0 or math.copysign(1, a) < 0:
        return "-"
    return "%.2fx" % (a / b)


# (label, unit, wl, metric, scale, match): the rows of the summary table.
def summary_rows():
    rows = []
    for s in HOT_SIZES:
        rows.append(("hot pair %d B" % s, "ns/pair", "hotpair", "ns_per_op", 1, {"size": s}))
    for s in HOT_SIZES:
        rows.append(("hot pair %d B, callgrind" % s, "instr/pair", "callgrind",
                     "ir_per_op", 1, {"size": s, "hold": 0}))
    rows.append(("hot pair 64 B, pool kept open, callgrind", "instr/pair", "callgrind",
                 "ir_per_op", 1, {"size": 64, "hold": 1}))
    for o in ("lifo", "fifo", "random"):
        rows.append(("batch of 100k, freed %s" % o.upper(), "ns/pair", "batch-" + o,
                     "ns_per_op", 1, {}))
    rows += [
        ("batch of 20k, freed RANDOM, malloc+free, callgrind", "instr/pair",
         "callgrind-batch", "ir_per_op", 1, {}),
        ("churn, 100k live, mixed sizes", "ns/step", "churn", "ns_per_op", 1, {}),
        ("churn, 20k live, malloc+free, callgrind", "instr/step", "callgrind-churn",
         "ir_per_op", 1, {}),
        ("producer/consumer, 2 threads", "ns/object", "prodcons", "ns_per_op", 1, {}),
        ("producer/consumer, malloc+free, callgrind", "instr/object", "callgrind-prodcons",
         "ir_per_op", 1, {}),
        ("larson: objects handed between 2 threads, 16-1000 B", "ns/step", "larson",
         "ns_per_op", 1, {}),
        ("larson, malloc+free, callgrind", "instr/step", "callgrind-larson", "ir_per_op", 1, {}),
        ("xmalloc: 2-thread chain, 16 B-64 KiB", "ns/object", "xmalloc", "ns_per_op", 1, {}),
        ("xmalloc, malloc+free, callgrind", "instr/object", "callgrind-xmalloc",
         "ir_per_op", 1, {}),
        ("mstress: 8 threads churning one table", "ns/step", "mstress", "ns_per_op", 1, {}),
        ("mstress, malloc+free, callgrind", "instr/step", "callgrind-mstress", "ir_per_op",
         1, {}),
        ("drain: allocate", "s", "drain", "alloc_s", 1, {}),
        ("drain: RSS 1.0 s after free", "MiB", "drain", "rss_1_mb", 1, {}),
        ("drain: excess over start at 1.0 s", "% of start", "drain", "excess_1.0_pct", 1, {}),
        ("drain: excess over a cold start at 1.0 s", "% of start", "drain",
         "excess_cold_1.0_pct", 1, {}),
        ("drain: freed memory still resident", "% of peak", "drain", "retained_1.0_pct", 1, {}),
        ("pin random 1%: RSS after 1.5 s", "MiB", "pin-random", "rss_final_mb", 1, {}),
        ("pin random 1%: RSS / live bytes", "x", "pin-random", "final_over_live", 1, {}),
        ("pin 1 in 1000: RSS after 1.5 s", "MiB", "pin-interleaved", "rss_final_mb", 1, {}),
        ("pin 1 in 1000: RSS / live bytes", "x", "pin-interleaved", "final_over_live", 1, {}),
        ("pin random 1%, malloc_trim(0): RSS after 1.5 s", "MiB", "pin-random-trim", "rss_final_mb", 1, {}),
        ("pin 1 in 1000, malloc_trim(0): RSS after 1.5 s", "MiB", "pin-interleaved-trim", "rss_final_mb", 1, {}),
        ("python3 (pymalloc)", "s", "python-pymalloc", "seconds", 1, {}),
        ("python3, pymalloc's arenas from karena", "s", "python-karena", "seconds", 1, {}),
        ("python3 frees 9/10: RSS after, CPython's arenas", "MiB", "python-rss-mmap",
         "rss_after_free_mb", 1, {}),
        ("python3 frees 9/10: RSS after, karena's arenas", "MiB", "python-rss-karena",
         "rss_after_free_mb", 1, {}),
        ("python3 PYTHONMALLOC=malloc", "s", "python-malloc", "seconds", 1, {}),
        ("sqlite3 :memory: script", "s wall", "sqlite", "wall_s", 1, {}),
    ]
    return rows


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i < 2 else "--:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def summary_table(res):
    header = ["workload", "unit"] + res.allocs
    has_k = "karena" in res.allocs
    if has_k:
        header += ["karena/glibc", "karena/mimalloc"]
    rows = []
    for label, unit, wl, metric, scale, match in summary_rows():
        if not any(res.values(wl, a, metric, **match) or res.failures(wl, a)
                   for a in res.allocs):
            continue
        spread = not wl.startswith("callgrind")
        row = [label, unit] + [cell(res, wl, a, metric, scale, spread, **match)
                               for a in res.allocs]
        if has_k:
            k = res.median(wl, "karena", metric, **match)
            row += [ratio(k, res.median(wl, "glibc", metric, **match)),
                    ratio(k, res.median(wl, "mimalloc", metric, **match))]
        rows.append(row)
    return table(header, rows)


WORKLOADS = ["hotpair", "batch-lifo", "batch-fifo", "batch-random", "churn",
             "prodcons", "larson", "xmalloc", "mstress", "drain", "pin-random", "pin-interleaved",
             "pin-random-trim", "pin-interleaved-trim",
             "python-pymalloc", "python-karena", "python-malloc", "python-rss-mmap",
             "python-rss-karena", "sqlite"]


def per_process_table(res, metric, scale):
    rows = []
    for wl in WORKLOADS:
        if not any(res.values(wl, a, metric) for a in res.allocs):
            continue
        vals = {}
        for a in res.allocs:
            # hotpair prints one line per size: one process, count it once.
            v = res.values(wl, a, metric, **({"size": 16} if wl == "hotpair" else {}))
            vals[a] = [x * scale for x in v]
        row = [wl, ""]
        for a in res.allocs:
            v = vals[a]
            row.append("%s (%s–%s)" % (fmt(statistics.median(v)), fmt(min(v)), fmt(max(v)))
                       if v else ("fail" if res.failures(wl, a) else "-"))
        rows.append(row)
    return table(["workload", ""] + res.allocs, rows)


def hotpair_table(res):
    sizes = sorted({int(r["size"]) for r in res.recs if r["wl"] == "hotpair" and "size" in r})
    rows = []
    for s in sizes:
        row = ["%d" % s, "ns/pair"] + [cell(res, "hotpair", a, "ns_per_op", 1, False, size=s)
                                       for a in res.allocs]
        if "karena" in res.allocs:
            row.append(ratio(res.median("hotpair", "karena", "ns_per_op", size=s),
                             res.median("hotpair", "mimalloc", "ns_per_op", size=s)))
        rows.append(row)
    header = ["size B", "unit"] + res.allocs + (["karena/mimalloc"] if "karena" in res.allocs else [])
    return table(header, rows)


DRAIN_T = ["0", "0.1", "0.5", "1", "1.5"]


def drain_table(res):
    rows = []
    for a in res.allocs:
        row = [a, cell(res, "drain", a, "rss_cold_mb", spread=False),
               cell(res, "drain", a, "rss_start_mb", spread=False),
               cell(res, "drain", a, "rss_peak_mb", spread=False)]
        row += [cell(res, "drain", a, "rss_%s_mb" % t, spread=False) for t in DRAIN_T]
        rows.append(row)
    return table(["allocator", "cold MiB", "start MiB", "peak MiB"] +
                 ["%s s" % t for t in DRAIN_T], rows)


def vm_table(res):
    rows = []
    for r in res.recs:
        if r["wl"] != "vm":
            continue
        k = r["alloc"].replace("vm-", "")
        b = r.get("bench")
        # env kernel-memcg: the same, from a memory cgroup other than the root
        memcg = " (memory cgroup)" if r.get("env") == "kernel-memcg" else ""
        if b == "grant":
            rows.append([k, "map + touch 64 pages + unmap, " + r.get("mode", "?") + memcg,
                         "%s us/cycle (%s–%s); map %s + touch %s + unmap %s us" % (
                             r.get("us_per_cycle"), r.get("us_min"), r.get("us_max"),
                             r.get("map_us"), r.get("touch_us"), r.get("unmap_us"))])
        elif b == "grant_rate":
            rows.append([k, "map + touch 1 page + unmap, %s, %s thread(s)%s" % (
                r.get("mode"), r.get("threads"), memcg), "%s cycles/s" % r.get("cycles_per_s")])
        elif b == "fork":
            rows.append([k, "fork + exit, %s MiB, %s" % (r.get("mib"), r.get("mode")),
                         "%s ms; a reading child takes %s KiB" % (
                             r.get("fork_exit_ms"), r.get("child_kib"))])
        elif b == "refault":
            rows.append([k, "touch 64 pages handed back (%s)%s" % (
                "KARENA_IOC_RETURN_PAGES" if r.get("mode") == "karena" else "MADV_DONTNEED",
                memcg), "%s us/cycle (%s–%s)" % (r.get("us_per_cycle"), r.get("us_min"),
                                                 r.get("us_max"))])
        elif b == "python-rss":
            val = "RSS peak %s, after free %s MiB" % (r.get("rss_peak_mb"),
                                                      r.get("rss_after_free_mb"))
            if r.get("arenas") == "karena":
                val += ("; arenas peak %s, after free %s, granted %s, released %s; "
                        "karenactl holders: %s at the peak, %s after free (peak %s)" % (
                            r.get("arenas_peak"), r.get("arenas_after_free"),
                            r.get("granted"), r.get("released"), r.get("holder_at_peak"),
                            r.get("holder_after_free"), r.get("holder_peak")))
            rows.append([k, "%s: python3 frees 9/10 of its objects" % r.get("env"), val])
        elif b in ("hotpair", "churn", "drain", "pin"):
            what = {"hotpair": "hot pair %s B" % r.get("size"), "churn": "churn",
                    "drain": "drain", "pin": "pin random"}[b]
            if b in ("hotpair", "churn"):
                val = "%s ns/op" % r.get("ns_per_op")
            elif b == "drain":
                val = "start %s, peak %s, 1.0 s %s MiB" % (r.get("rss_start_mb"), r.get("rss_peak_mb"),
                                                        r.get("rss_1_mb"))
            else:
                val = "final %s MiB, %s x live" % (r.get("rss_final_mb"), r.get("final_over_live"))
            rows.append([k, "%s: %s" % (r.get("env"), what), val])
    if not rows:
        return None
    return table(["kernel", "measurement", "result"], rows)


def targets(res):
    """The project's targets, each judged on medians.

    A target whose workloads this run left out (KARENA_BENCH_ONLY, or an
    allocator missing) reads "not measured", never "not met"; a run that
    failed counts against it.
    """
    out = []
    k, m = "karena", "mimalloc"
    if k not in res.allocs:
        return ["karena was not measured (no lib/libkarena-malloc.so)."]

    def measured(wl):	# run (and maybe failed) under karena or mimalloc
        return any(r["wl"] == wl and r["alloc"] in (k, m) for r in res.recs)

    def verdict(ok):
        return "**met**" if ok else "**not met**"

    single = [("hot pair %d B" % s, "hotpair", "ns_per_op", {"size": s}) for s in HOT_SIZES]
    single += [("callgrind %d B" % s, "callgrind", "ir_per_op", {"size": s, "hold": 0})
               for s in HOT_SIZES]
    single += [("batch " + o, "batch-" + o, "ns_per_op", {}) for o in ("lifo", "fifo", "random")]
    single += [("churn", "churn", "ns_per_op", {})]
    worst, unmeasured = [], []
    for label, wl, metric, match in single:
        if not measured(wl):
            unmeasured.append(label)
            continue
        a, b = res.median(wl, k, metric, **match), res.median(wl, m, metric, **match)
        if a is None or b is None:
            worst.append((float("inf"), label))
        else:
            worst.append((a / b, label))
    bad = [(r, lbl) for r, lbl in worst if r > 1.0]
    instr = "; instructions in malloc and free: batch random %s, churn %s" % (
        ratio(res.median("callgrind-batch", k, "ir_per_op"),
              res.median("callgrind-batch", m, "ir_per_op")),
        ratio(res.median("callgrind-churn", k, "ir_per_op"),
              res.median("callgrind-churn", m, "ir_per_op")))
    what = "Hot pair and single-thread workloads no slower than mimalloc: "
    if not worst:
        out.append(what + "not measured")
    else:
        notes = []
        if bad:
            notes.append("karena/mimalloc: " + ", ".join(
                "%s %s" % (lbl, "fail" if r == float("inf") else "%.2fx" % r)
                for r, lbl in bad) + instr)
        if unmeasured:
            notes.append("not measured: " + ", ".join(unmeasured))
        out.append(what + ("**not met**" if bad else "**met** for what was measured"
                           if unmeasured else "**met**") +
                   (" (" + "; ".join(notes) + ")" if notes else ""))
    if not measured("prodcons"):
        out.append("Two threads within 1.2x of mimalloc: not measured")
    else:
        a, b = res.median("prodcons", k, "ns_per_op"), res.median("prodcons", m, "ns_per_op")
        ia = res.median("callgrind-prodcons", k, "ir_per_op")
        ib = res.median("callgrind-prodcons", m, "ir_per_op")
        out.append("Two threads within 1.2x of mimalloc: %s (%s wall; instructions in malloc "
                   "and free: %s)" % (
                       verdict(a is not None and b is not None and a <= 1.2 * b), ratio(a, b),
                       ratio(ia, ib)))
    what = "Threads (larson, xmalloc, mstress) within 1.1x of mimalloc: "
    parts, bad, seen = [], False, False
    for wl in ("larson", "xmalloc", "mstress"):
        if not measured(wl):
            parts.append("%s not measured" % wl)
            continue
        seen = True
        a, b = res.median(wl, k, "ns_per_op"), res.median(wl, m, "ns_per_op")
        bad |= a is None or b is None or a > 1.1 * b
        parts.append("%s %s wall, %s instructions" % (
            wl, ratio(a, b), ratio(res.median("callgrind-" + wl, k, "ir_per_op"),
                                   res.median("callgrind-" + wl, m, "ir_per_op"))))
    out.append(what + ((verdict(not bad) + " (karena/mimalloc: ") if seen else "not measured (")
               + "; ".join(parts) + ")")
    if not measured("drain"):
        out.append("Drain back to within 5% of starting RSS within 1 s: not measured")
    else:
        e = res.median("drain", k, "excess_1.0_pct")
        out.append("Drain back to within 5%% of starting RSS within 1 s: %s (excess at 1.0 s: "
                   "%s%% of the start after a warm-up burst; %s%% of the freed peak still "
                   "resident; against the cold start, before the warm-up: %s%%, which includes "
                   "code first run by the drain, such as starting the purge thread)" % (
                       verdict(e is not None and e <= 5), fmt(e),
                       fmt(res.median("drain", k, "retained_1.0_pct")),
                       fmt(res.median("drain", k, "excess_cold_1.0_pct"))))
    pk = res.median("python-karena", "glibc", "seconds")
    pm = res.median("python-pymalloc", "glibc", "seconds")
    what = "python3 with pymalloc's arenas from karena within 2% of CPython's own"
    if pk is None or pm is None:
        out.append(what + ": not measured")
    else:
        out.append("%s: %s (workload.py, no preload: %s; RSS after freeing 9/10 of the "
                   "objects: %s MiB with karena's arenas, %s with CPython's)" % (
                       what, verdict(pk <= 1.02 * pm), ratio(pk, pm),
                       fmt(res.median("python-rss-karena", "glibc", "rss_after_free_mb")),
                       fmt(res.median("python-rss-mmap", "glibc", "rss_after_free_mb"))))
    g = {}
    for r in res.recs:
        if r["wl"] == "vm" and r.get("bench") == "grant" and r.get("env") == "kernel":
            g.setdefault(r["alloc"], {})[r.get("mode")] = (num(r.get("us_per_cycle")),
                                                          num(r.get("us_min")))
    if g:
        parts, ok = [], True
        for kern, modes in sorted(g.items()):
            none = (None, None)
            (kk, kkmin), (an, anmin) = modes.get("karena", none), modes.get("anon", none)
            (kp, kpmin), (ap, apmin) = (modes.get("karena_populate", none),
                                        modes.get("anon_populate", none))
            # Judged on the median and on the best round (the least
            # disturbed by a noisy host): both must be faster.
            ok = ok and None not in (kk, an, kkmin, anmin) and kk < an and kkmin < anmin
            parts.append("%s: %s vs %s us/cycle median (%s), best round %s vs %s (%s); "
                         "with MAP_POPULATE %s vs %s (%s)" % (
                             kern.replace("vm-", ""), fmt(kk), fmt(an), ratio(kk, an),
                             fmt(kkmin), fmt(anmin), ratio(kkmin, anmin),
                             fmt(kp), fmt(ap), ratio(kp, ap)))
        out.append("Grant + first touch faster than anonymous mmap + first touch "
                   "(QEMU TCG guest): %s (%s)" % (verdict(ok), "; ".join(parts)))
    else:
        out.append("Grant + first touch faster than anonymous mmap + first touch: not measured "
                   "(the module did not build or the VM part was skipped)")
    return out


def machine(out_dir):
    info = {}
    try:
        with open(os.path.join(out_dir, "machine.txt")) as f:
            for line in f:
                for tok in line.split()[1:]:
                    k, _, v = tok.partition("=")
                    info[k] = v.replace("_", " ") if k == "cpu" else v
    except OSError:
        pass
    return info


def write_markdown(res, out_dir):
    info = machine(out_dir)
    pkgs = ", ".join("%s %s" % (p, info.get(p, "?")) for p in
                     ("libc6", "libjemalloc2", "libtcmalloc-minimal4", "libmimalloc2.0",
                      "python3", "sqlite3", "valgrind"))
    lines = [
        "Measured %s on %s CPUs (%s), kernel %s, load average at start %s; "
        "karena %s (git %s, lib/ at %s, KARENA_BACKEND=mmap). Median of %s runs per cell (drain and pin: %s), (min–max) beside it; "
        "ratios compare medians; callgrind counts are exact instructions per malloc+free pair "
        "(one run). Packages: %s." % (
            info.get("date", "?"), info.get("nproc", "?"), info.get("cpu", "?"),
            info.get("kernel", "?"), info.get("load", "?"), info.get("karena", "?"),
            info.get("git", "?"), info.get("lib", "?"), info.get("runs", "?"),
            info.get("rss_runs", "?"), pkgs),
        "",
        summary_table(res),
        "",
        "Targets:",
        "",
    ]
    lines += ["- " + t for t in targets(res)]
    body = "\n".join(lines) + "\n"

    full = ["# karena benchmarks", "", body,
            "## Wall time per process (s)", "", per_process_table(res, "wall_s", 1), "",
            "## Peak RSS per process (MiB, getrusage maxrss)", "",
            per_process_table(res, "maxrss_kb", 1 / 1024), "",
            "## Hot pair, every size (ns per malloc+free, median)", "", hotpair_table(res), "",
            "## Drain: RSS (MiB, median) after freeing everything", "", drain_table(res), ""]
    vt = vm_table(res)
    if vt:
        full += ["## In the VM (QEMU TCG: compare within a kernel, not with the host)", "", vt, ""]
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("\n".join(full))
    # The part docs/benchmarks.md quotes.
    with open(os.path.join(out_dir, "summary.md"), "w") as f:
        f.write(body)


# The workloads of the two ratio panels: (wl, label, metric, match).
TIME_VS_MIMALLOC = (
    [("hotpair", "hot pair %d B" % s, "ns_per_op", {"size": s}) for s in HOT_SIZES] +
    [("batch-lifo", "batch LIFO", "ns_per_op", {}),
     ("batch-fifo", "batch FIFO", "ns_per_op", {}),
     ("batch-random", "batch random", "ns_per_op", {}),
     ("churn", "churn", "ns_per_op", {}),
     ("prodcons", "prod/cons", "ns_per_op", {}),
     ("larson", "larson", "ns_per_op", {}),
     ("xmalloc", "xmalloc", "ns_per_op", {}),
     ("mstress", "mstress", "ns_per_op", {}),
     ("drain", "drain alloc", "alloc_s", {}),
     ("python-pymalloc", "python", "seconds", {}),
     ("python-malloc", "python malloc", "seconds", {}),
     ("sqlite", "sqlite3", "wall_s", {})])
INSTR_VS_MIMALLOC = (
    [("callgrind", "hot pair %d B" % s, "ir_per_op", {"size": s, "hold": 0})
     for s in HOT_SIZES] +
    [("callgrind", "hot pair 64 B open", "ir_per_op", {"size": 64, "hold": 1}),
     ("callgrind-batch", "batch random", "ir_per_op", {}),
     ("callgrind-churn", "churn", "ir_per_op", {}),
     ("callgrind-prodcons", "prod/cons", "ir_per_op", {}),
     ("callgrind-larson", "larson", "ir_per_op", {}),
     ("callgrind-xmalloc", "xmalloc", "ir_per_op", {}),
     ("callgrind-mstress", "mstress", "ir_per_op", {})])


def write_vs_mimalloc(res, path, rows):
    """Each allocator's median, min and max over mimalloc's median.

    One line per workload: its index, its label, then ratio, low and high
    for each allocator of the run (NaN where it was not measured, or where
    mimalloc was not). A ratio of 0.5 is twice as fast as mimalloc.
    """
    with open(path, "w") as f:
        f.write("# index workload " + " ".join("%s %s_min %s_max" % (a, a, a)
                                               for a in res.allocs) + "\n")
        for i, (wl, label, metric, match) in enumerate(rows):
            base = res.median(wl, "mimalloc", metric, **match)
            cols = []
            for a in res.allocs:
                v = res.values(wl, a, metric, **match)
                if v and base:
                    cols += ["%.3f" % (x / base) for x in
                             (statistics.median(v), min(v), max(v))]
                else:
                    cols += ["NaN"] * 3
            f.write('%d "%s" %s\n' % (i, label, " ".join(cols)))


def write_plot(res, out_dir):
    d = out_dir
    A = res.allocs
    # 1 and 2: time and instructions relative to mimalloc
    write_vs_mimalloc(res, os.path.join(d, "time_vs_mimalloc.dat"), TIME_VS_MIMALLOC)
    write_vs_mimalloc(res, os.path.join(d, "instr_vs_mimalloc.dat"), INSTR_VS_MIMALLOC)
    # 3: drain timeline
    with open(os.path.join(d, "drain.dat"), "w") as f:
        f.write("t " + " ".join(A) + "\n")
        f.write("-0.3 %s\n" % " ".join(fmt(res.median("drain", a, "rss_peak_mb"), 1)
                                       if res.median("drain", a, "rss_peak_mb") else "NaN" for a in A))
        for t in DRAIN_T:
            f.write("%s %s\n" % (t, " ".join(fmt(res.median("drain", a, "rss_%s_mb" % t), 1)
                                             if res.median("drain", a, "rss_%s_mb" % t) else "NaN"
                                             for a in A)))
    # 4: pin
    with open(os.path.join(d, "pin.dat"), "w") as f:
        f.write("mode " + " ".join(A) + "\n")
        for wl, label in (("pin-random", "random 1%"), ("pin-interleaved", "1 in 1000")):
            f.write('"%s" %s\n' % (label, " ".join(
                fmt(res.median(wl, a, "final_over_live"), 2)
                if res.median(wl, a, "final_over_live") is not None else "NaN" for a in A)))

    n = len(A)
    colors = {"glibc": "#555555", "jemalloc": "#1f77b4", "tcmalloc": "#2ca02c",
              "mimalloc": "#ff7f0e", "karena": "#d62728"}
    points = {"glibc": 4, "jemalloc": 6, "tcmalloc": 8, "mimalloc": 5, "karena": 7}
    lc = lambda i: 'lc rgb "%s"' % colors.get(A[i], "black")
    pt = lambda i: "pt %d ps 1.1" % points.get(A[i], 7)
    drain_plot = ", ".join("'drain.dat' u 1:%d w lp pt 7 lw 2 %s t '%s'" % (i + 2, lc(i), A[i])
                           for i in range(n))
    hist = lambda fn: ", ".join("'%s' u %d:xtic(1) %s t '%s'" % (fn, i + 2, lc(i), A[i])
                                for i in range(n))

    # The allocators of a workload side by side around its index, each a
    # point at its median ratio with a bar from its min to its max run.
    def vs_mimalloc(fn, bars):
        out = []
        for i in range(n):
            off = (i - (n - 1) / 2.0) * 0.8 / max(n, 1)
            col = 3 + 3 * i
            using = "($1%+.3f):%d:%d:%d" % (off, col, col + 1, col + 2) if bars else \
                "($1%+.3f):%d" % (off, col)
            out.append("'%s' u %s%s w %s lw 1.5 %s %s t '%s'" % (
                fn, using, ":xtic(2)" if i == 0 else "",
                "yerrorbars" if bars else "points", pt(i), lc(i), A[i]))
        return ", ".join(out) + ", 1 lc rgb 'black' dt 2 lw 1.5 notitle"

    # A panel whose workload this run left out (KARENA_BENCH_ONLY, or no
    # mimalloc to compare with) is drawn empty: gnuplot refuses a plot in
    # which every point is undefined.
    def measured(fn, labels):
        with open(os.path.join(d, fn)) as f:
            for line in list(f)[1:]:	# the first line names the columns
                for v in shlex.split(line)[labels:]:
                    if v != "NaN":
                        return True
        return False

    def panel(fn, labels, plot):
        if measured(fn, labels):
            return "plot " + plot
        return ("unset logscale; set xrange [0:1]; set yrange [0:1]; unset xtics; "
                "set label 1 'not measured in this run' at 0.5,0.5 center; "
                "plot 2 with lines notitle; unset label 1; set autoscale x; set xtics")
    ratio_setup = """set xlabel ''
set logscale y 2
set yrange [*:*]
set ytics ('1/16' 0.0625, '1/8' 0.125, '1/4' 0.25, '1/2' 0.5, '1' 1, '2' 2, '4' 4, '8' 8, '16' 16, '32' 32, '64' 64, '128' 128)
set xtics rotate by -35 nomirror
set grid ytics
set key inside top left horizontal
set offsets 0, 0, graph 0.12, 0"""
    gp = """
set terminal pngcairo size 1500,1100 font 'DejaVu Sans,10'
set output 'bench.png'
set multiplot layout 2,2 title 'karena against glibc, jemalloc, tcmalloc and mimalloc (lower is better)' font ',13'
set title 'Time relative to mimalloc: median, bar from the fastest to the slowest run (log scale)'
set ylabel 'x mimalloc (1 = mimalloc)'
{ratio_setup}
set xrange [-0.6:{nt}-0.4]
{time}
set title 'Instructions in malloc and free relative to mimalloc (callgrind, exact; log scale)'
{ratio_setup}
set xrange [-0.6:{ni}-0.4]
{instr}
unset logscale y; set ytics auto; set xtics norotate; set xrange [*:*]; set offsets 0, 0, 0, 0
set key autotitle columnhead
set title 'Drain: RSS after freeing everything (x=-0.3: peak)'
set xrange [-0.4:1.6]
set style data linespoints
set xlabel 'seconds after the last free'; set ylabel 'RSS (MiB, log)'
set logscale y
set key top right vertical
set yrange [*:*]
{drain}
unset logscale y
set title 'Pin: RSS / live bytes after freeing 99% (1.0 = perfect)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xlabel ''; set ylabel 'resident / live (log)'
set key top left
set xrange [*:*]
set logscale y
set yrange [1:*]
{pin}
unset multiplot
""".format(ratio_setup=ratio_setup, nt=len(TIME_VS_MIMALLOC), ni=len(INSTR_VS_MIMALLOC),
           time=panel("time_vs_mimalloc.dat", 2, vs_mimalloc("time_vs_mimalloc.dat", True)),
           instr=panel("instr_vs_mimalloc.dat", 2, vs_mimalloc("instr_vs_mimalloc.dat", False)),
           drain=panel("drain.dat", 1, drain_plot), pin=panel("pin.dat", 1, hist("pin.dat")))
    with open(os.path.join(d, "bench.gp"), "w") as f:
        f.write(gp)
    r = subprocess.run(["gnuplot", "bench.gp"], cwd=d, capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stderr)
        return False
    return True


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    res = Results(parse(os.path.join(out_dir, "raw.txt")))
    write_markdown(res, out_dir)
    if not write_plot(res, out_dir):
        print("summarize: gnuplot failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
