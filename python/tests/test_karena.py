# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests of the karena Python package (TAP), run by make check.

    python3 python/tests/test_karena.py            natively: mmap backend,
                                                   pip install + .pth hook
    python3 python/tests/test_karena.py (in the VM, karena.ko loaded,
    KARENA_IN_VM=1)                                kernel backend, holder
                                                   counts, a denial

Every test runs its Python in a child interpreter (enable() changes the
whole process), which prints one JSON line; the assertions are on counts
and states, never on time. The package comes from build/python (make
python) unless KARENA_PYTHON_BUILD names another directory.
"""
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
BUILD = os.environ.get("KARENA_PYTHON_BUILD",
                       os.path.join(TOP, "build", "python"))
IN_VM = os.environ.get("KARENA_IN_VM") == "1"
PARAMS = "/sys/module/karena/parameters"
SYSFS = "/sys/class/misc/karena"
KARENACTL = os.path.join(TOP, "tools", "karenactl", "karenactl")

count = 0
failed = 0


def report(ok, name, why=""):
    global count, failed
    count += 1
    if not ok:
        failed += 1
    print("%sok %d - %s" % ("" if ok else "not ", count, name))
    if not ok and why:
        for line in str(why).splitlines()[-25:]:
            print("#   " + line)
    sys.stdout.flush()


# Objects that fill about @mib MiB of pymalloc arenas: 2-tuples are 48-byte
# blocks; a chain, so that no list array (malloc memory) grows with them.
CHAIN = """
def chain(mib):
    x = None
    for _ in range(mib * 21845):
        x = (x, None)
    return x


# Grow a chain until MemoryError (bound_mib: far past any limit, so that a
# broken denial path fails instead of filling the machine), drop it, grow
# again_mib: [hit, stats after the drop, stats after that, grown again].
def fill_free_refill(bound_mib, again_mib):
    import karena
    hit = False
    try:
        x = chain(bound_mib)
    except MemoryError:
        hit = True
    x = None
    s = karena.stats()
    y = chain(again_mib)
    return [hit, s, karena.stats(), y is not None]
"""

def child(code, env=None, python=None):
    """Run @code (after CHAIN) in a fresh interpreter with the package on
    its path; its last stdout line is JSON. Returns (result or None,
    output)."""
    e = dict(os.environ)
    e["PYTHONPATH"] = BUILD
    e.pop("KARENA_PYTHON", None)
    e.update(env or {})
    p = subprocess.run([python or sys.executable, "-c",
                        CHAIN + textwrap.dedent(code)],
                       env=e, capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    lines = p.stdout.strip().splitlines()
    if p.returncode != 0 or not lines:
        return None, "exit %d\n%s" % (p.returncode, out)
    try:
        return json.loads(lines[-1]), out
    except ValueError:
        return None, out


def test(name):
    """Decorator: run the function now; an exception is a failure."""
    def run(fn):
        try:
            ok, why = fn()
        except Exception as e:  # a broken test is a failure, never a skip
            ok, why = False, "%s: %s" % (type(e).__name__, e)
        report(ok, name, why)
        return fn
    return run


def sysfs(name):
    with open(os.path.join(SYSFS, name)) as f:
        return int(f.read())


def set_param(name, value):
    with open(os.path.join(PARAMS, name), "w") as f:
        f.write(str(value))


def pymalloc_arena_size():
    """ARENA_SIZE of this interpreter, as sys._debugmallocstats prints it."""
    p = subprocess.run([sys.executable, "-c",
                        "import sys; sys._debugmallocstats()"],
                       capture_output=True, text=True)
    return int(re.search(r"\d+ arenas \* (\d+) bytes/arena",
                         p.stderr).group(1))


def kernel_lacks_arena_size():
    """Why the module cannot grant pymalloc's arenas, or None: it needs
    KARENA_IOC_SET_ARENA_SIZE, or arena_kb equal to pymalloc's size."""
    import fcntl
    import struct

    size = pymalloc_arena_size()
    # _IOW(0xB9, 0x02, struct karena_arena_size): 16 bytes
    set_arena_size = (1 << 30) | (16 << 16) | (0xB9 << 8) | 0x02
    fd = os.open("/dev/karena", os.O_RDWR)
    try:
        fcntl.ioctl(fd, set_arena_size, struct.pack("QII", size, 0, 0))
        return None
    except OSError as e:
        if e.errno != errno.ENOTTY or sysfs("arena_size") == size:
            return None
        return ("this karena.ko has no KARENA_IOC_SET_ARENA_SIZE and grants "
                "%d KiB arenas, not pymalloc's %d KiB" %
                (sysfs("arena_size") >> 10, size >> 10))
    finally:
        os.close(fd)


def skip(name, why):
    global count
    count += 1
    print("ok %d - %s # SKIP %s" % (count, name, why))


KERNEL_TESTS = (
    "kernel: the arenas count in the process's holder (karenactl holders) "
    "and in the module's grants",
    "kernel: at max_arenas_per_process a growing heap ends in MemoryError; "
    "the program frees and allocates again")
# A module that cannot grant pymalloc's arenas: the tests that do not need
# the kernel run on the mmap backend, the kernel's are skipped (and say why).
lacks = IN_VM and kernel_lacks_arena_size()
if lacks:
    os.environ["KARENA_BACKEND"] = "mmap"

# The message of the ImportError that `import karena` raises, as JSON.
IMPORT_ERROR = """
import json
try:
    import karena
    print(json.dumps("imported"))
except ImportError as e:
    print(json.dumps(str(e)))
"""

# Arenas pymalloc may keep after the objects in them are gone: one empty
# arena it holds back against thrashing, and those that serve the objects
# the test itself allocated since (its stats() dicts): 2 on 3.10 to 3.12,
# 3 on 3.13.
SLACK = 3
EXPECTED_BACKEND = (os.environ.get("KARENA_BACKEND") or
                    ("kernel" if IN_VM else "mmap"))


@test("import karena: stats() has every counter, backend %s"
      % EXPECTED_BACKEND)
def _():
    r, out = child("""
        import json, karena
        print(json.dumps(karena.stats()))
    """)
    want = {"backend", "enabled", "arena_size", "arenas_held", "arenas_peak",
            "arenas_granted", "arenas_released", "denials",
            "previous_arenas_freed"}
    ok = (r is not None and want <= set(r) and
          r["backend"] == EXPECTED_BACKEND and r["enabled"] is False and
          r["arenas_granted"] == 0 and r["arena_size"] == pymalloc_arena_size())
    return ok, out


@test("enable(): arena size is pymalloc's, as sys._debugmallocstats says")
def _():
    p = subprocess.run([sys.executable, "-c",
                        "import sys; sys._debugmallocstats()"],
                       capture_output=True, text=True)
    m = re.search(r"(\d+) arenas \* (\d+) bytes/arena", p.stderr)
    r, out = child("""
        import json, karena
        karena.enable()
        print(json.dumps(karena.stats()))
    """)
    ok = (m is not None and r is not None and r["enabled"] is True and
          r["arena_size"] == int(m.group(2)) and r["arena_size"] > 0)
    return ok, "debugmallocstats: %s\n%s" % (m and m.group(0), out)


@test("arenas come from karena and go back to it")
def _():
    r, out = child("""
        import json, karena
        karena.enable()
        s0 = karena.stats()
        x = chain(32)
        s1 = karena.stats()
        x = None
        s2 = karena.stats()
        print(json.dumps([s0, s1, s2]))
    """)
    if r is None:
        return False, out
    s0, s1, s2 = r
    size_mib = max(s1["arena_size"] >> 20, 1)
    ok = (s1["arenas_granted"] - s0["arenas_granted"] >= 24 // size_mib and
          s1["arenas_held"] == s1["arenas_granted"] - s1["arenas_released"] and
          s1["arenas_peak"] >= s1["arenas_held"] and
          s2["arenas_released"] - s1["arenas_released"] >=
          s1["arenas_held"] - s0["arenas_held"] - SLACK and
          s2["arenas_held"] <= s0["arenas_held"] + SLACK and
          s2["arenas_held"] == s2["arenas_granted"] - s2["arenas_released"])
    return ok, out


@test("arenas from before enable() go back to the allocator that made them")
def _():
    r, out = child("""
        import json, karena
        x = chain(32)
        karena.enable()
        s0 = karena.stats()
        x = None
        s1 = karena.stats()
        print(json.dumps([s0, s1]))
    """)
    if r is None:
        return False, out
    s0, s1 = r
    ok = (s1["previous_arenas_freed"] - s0["previous_arenas_freed"] >= 20 and
          s1["arenas_released"] == s0["arenas_released"])
    return ok, out


@test("disable(): new arenas from the previous allocator, karena's still "
      "go back to karena")
def _():
    r, out = child("""
        import json, karena
        karena.enable()
        x = chain(16)
        s1 = karena.stats()
        karena.disable()
        y = chain(16)
        s2 = karena.stats()
        x = None
        s3 = karena.stats()
        y = None
        s4 = karena.stats()
        print(json.dumps([s1, s2, s3, s4, karena.is_enabled()]))
    """)
    if r is None:
        return False, out
    s1, s2, s3, s4, enabled = r
    ok = (not enabled and s1["arenas_held"] >= 8 and
          s2["arenas_granted"] == s1["arenas_granted"] and
          s3["arenas_released"] - s2["arenas_released"] >=
          s2["arenas_held"] - SLACK and
          s4["previous_arenas_freed"] - s3["previous_arenas_freed"] >= 8)
    return ok, out


@test("enable() under PYTHONMALLOC=malloc says pymalloc is not in use")
def _():
    r, out = child("""
        import json, karena
        try:
            karena.enable()
            print(json.dumps("enabled"))
        except RuntimeError as e:
            print(json.dumps(str(e)))
    """, env={"PYTHONMALLOC": "malloc"})
    return r is not None and "pymalloc is not in use" in r, out


@test("a free-threaded CPython (abiflags 't') is refused at import")
def _():
    r, out = child("import sys\nsys.abiflags = 't'\n" + IMPORT_ERROR)
    return r is not None and "free-threaded" in r, out


@test("python3 -m karena prints the counters%s" %
      (" and the module's" if IN_VM else ""))
def _():
    e = dict(os.environ, PYTHONPATH=BUILD, KARENA_PYTHON="1")
    p = subprocess.run([sys.executable, "-m", "karena"], env=e,
                       capture_output=True, text=True)
    out = p.stdout + p.stderr
    ok = p.returncode == 0 and "arenas_held" in out
    if IN_VM:
        ok = ok and "karena module (%s)" % SYSFS in out and \
            re.search(r"^\s+grants\s+\d+$", out, re.M) is not None
    return ok, out


if not IN_VM:
    @test("a denial (RLIMIT_AS) is a MemoryError; the program frees and "
          "allocates again")
    def _():
        r, out = child("""
            import json, resource, karena
            karena.enable()
            with open("/proc/self/status") as f:
                vm = [int(l.split()[1]) for l in f if l.startswith("VmSize")][0]
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (vm * 1024 + (48 << 20), hard))
            r = fill_free_refill(1024, 8)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
            print(json.dumps(r))
        """)
        if r is None:
            return False, out
        hit, s, _, again = r
        return hit and s["denials"] >= 1 and again, out

    @test("the extension built for a free-threaded CPython "
          "(-DPy_GIL_DISABLED) refuses to load")
    def _():
        with tempfile.TemporaryDirectory(prefix="karena-ft.") as tmp:
            src = os.path.join(TOP, "python")
            e = dict(os.environ, CFLAGS="-DPy_GIL_DISABLED")
            b = subprocess.run([sys.executable, "setup.py", "-q", "build_ext",
                                "--build-temp", os.path.join(tmp, "t"),
                                "--build-lib", tmp], cwd=src, env=e,
                               capture_output=True, text=True)
            if b.returncode != 0:
                return False, b.stdout + b.stderr
            for f in ("__init__.py", "__main__.py"):
                shutil.copy(os.path.join(src, "karena", f),
                            os.path.join(tmp, "karena", f))
            r, out = child(IMPORT_ERROR, env={"PYTHONPATH": tmp})
            return r is not None and "free-threaded" in r, out

    @test("pip install --no-build-isolation (offline, into a venv); its .pth "
          "enables karena at start-up only with KARENA_PYTHON=1")
    def _():
        tmp = tempfile.mkdtemp(prefix="karena-venv.")
        try:
            venv = os.path.join(tmp, "venv")
            subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                            "--system-site-packages", venv], check=True)
            py = os.path.join(venv, "bin", "python")
            e = dict(os.environ, PIP_NO_INDEX="1",
                     PIP_DISABLE_PIP_VERSION_CHECK="1")
            e.pop("PYTHONPATH", None)
            p = subprocess.run([py, "-m", "pip", "install", "-q",
                                "--no-build-isolation",
                                os.path.join(TOP, "python")],
                               env=e, capture_output=True, text=True)
            if p.returncode != 0:
                return False, p.stdout + p.stderr
            code = ("import json, sys; m = sys.modules.get('karena'); "
                    "print(json.dumps([m is not None, m is not None and "
                    "m.is_enabled(), m and m.__file__]))")
            on = subprocess.run([py, "-c", code], capture_output=True,
                                text=True, env=dict(e, KARENA_PYTHON="1"))
            off = subprocess.run([py, "-c", code], capture_output=True,
                                 text=True, env=e)
            out = on.stdout + on.stderr + off.stdout + off.stderr
            r_on = json.loads(on.stdout) if on.returncode == 0 else None
            r_off = json.loads(off.stdout) if off.returncode == 0 else None
            ok = (r_on is not None and r_on[:2] == [True, True] and
                  r_on[2].startswith(venv) and r_off == [False, False, None])
            return ok, out
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(os.path.join(TOP, "python", "build"),
                          ignore_errors=True)
            for d in os.listdir(os.path.join(TOP, "python")):
                if d.endswith(".egg-info"):
                    shutil.rmtree(os.path.join(TOP, "python", d),
                                  ignore_errors=True)

if lacks:
    for name in KERNEL_TESTS:
        skip(name, lacks)
elif IN_VM:
    @test(KERNEL_TESTS[0])
    def _():
        g0 = sysfs("grants")
        r, out = child("""
            import json, os, subprocess, karena
            karena.enable()
            x = chain(16)
            s = karena.stats()
            h = json.loads(subprocess.run([%r, "--json", "holders"],
                           capture_output=True, text=True).stdout)
            mine = [e for e in h if e["pid"] == os.getpid()]
            print(json.dumps([s, mine]))
        """ % KARENACTL)
        if r is None:
            return False, out
        s, mine = r
        g1 = sysfs("grants")
        # the module counts in its own arenas (arena_kb): n per grant
        n = max(s["arena_size"] // sysfs("arena_size"), 1)
        ok = (s["backend"] == "kernel" and s["arenas_held"] >= 8 and
              len(mine) == 1 and mine[0]["arenas"] == n * s["arenas_held"] and
              mine[0]["peak"] >= n * s["arenas_held"] and
              g1 - g0 >= n * s["arenas_granted"])
        return ok, "%s\ngrants %d -> %d" % (out, g0, g1)

    @test(KERNEL_TESTS[1])
    def _():
        with open(os.path.join(PARAMS, "max_arenas_per_process")) as f:
            old = int(f.read())
        d0 = sysfs("denials_quota")
        # 16 of pymalloc's arenas, in the module's arenas (arena_kb)
        n = max(pymalloc_arena_size() // sysfs("arena_size"), 1)
        set_param("max_arenas_per_process", 16 * n)
        try:
            r, out = child("""
                import json, karena
                karena.enable()
                print(json.dumps(fill_free_refill(256, 4)))
            """)
        finally:
            set_param("max_arenas_per_process", old)
        d1 = sysfs("denials_quota")
        if r is None:
            return False, out
        hit, s, s2, again = r
        ok = (hit and s["denials"] >= 1 and d1 - d0 >= 1 and again and
              s["arenas_peak"] <= 16 and s2["arenas_held"] <= 16)
        return ok, "%s\ndenials_quota %d -> %d" % (out, d0, d1)

print("1..%d" % count)
sys.exit(1 if failed else 0)
