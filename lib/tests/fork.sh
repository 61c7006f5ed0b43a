#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fork.sh - python3 under LD_PRELOAD=libkarena-malloc.so forks from every
# kind of thread: the main thread and workers fork while other threads
# allocate; each child checks that karena is its malloc, starts and joins
# threads, forks again, and ends by returning from the forking thread (the
# child of a worker then ends by pthread_exit of its last thread, which
# hung while the purge thread outlived the others), by sys.exit() or by
# os._exit(); subprocess starts
# programs from several threads at once; multiprocessing's Pool maps over
# fork, forkserver and spawn. Each program must print what it
# prints without the preload and exit 0. A watchdog (timeout, 120 s: a
# program starts up to nine interpreters; FORK_WATCHDOG overrides) only
# turns a hang into a failure. TAP; the backend comes from the
# environment like the other tests.
here=$(cd "$(dirname "$0")" && pwd)
lib=${KARENA_PRELOAD:-$here/../libkarena-malloc.so}
. "$here/tap.sh"

[ -f "$lib" ] || { echo "1..0 # SKIP $lib not built"; exit 0; }
py=$(command -v python3) || { echo "1..0 # SKIP python3 not installed"; exit 0; }

# What every program shares: run f in a fresh child, wait for it (a
# watchdog of its own), and in every process check that karena is malloc.
cat > "$tmp/common.py" <<'PY'
import os, sys, threading

def karena_is_malloc():
    with open("/proc/self/maps") as m:
        return "libkarena-malloc.so" in m.read()

def churn(stop):
    while not stop.is_set():
        d = {i: str(i) * (i % 9) for i in range(2000)}
        del d

def start_churn(n=3):
    stop = threading.Event()
    ts = [threading.Thread(target=churn, args=(stop,)) for _ in range(n)]
    for t in ts:
        t.start()
    return stop, ts

def stop_churn(stop, ts):
    stop.set()
    for t in ts:
        t.join()

def wait(pid):
    """The child's exit status; a hang is caught by the outer timeout."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)

def child_threads(n=2):
    out = []
    def work(k):
        out.append(len([str(i) for i in range(k, k + 5000)]))
    ts = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return len(out) == n
PY

# run NAME EXPECTED: the program $tmp/NAME.py under the preload.
run() {
	name=$1 want=$2
	LD_PRELOAD=$lib PYTHONPATH=$tmp timeout -k 5 ${FORK_WATCHDOG:-120} "$py" "$tmp/$name.py" \
		> "$tmp/$name.out" 2> "$tmp/$name.err" < /dev/null
	st=$?
	got=$(cat "$tmp/$name.out")
	if [ $st = 0 ] && [ "$got" = "$want" ]; then
		ok "$name: $want"
	else
		[ $st = 124 ] || [ $st = 137 ] && st="$st (hung: killed by the watchdog)"
		notok "$name: exit status $st, printed '$got', want '$want'"
		head -5 "$tmp/$name.err" | sed 's/^/# /'
	fi
}

# The program of the issue: a worker forks, the child starts and joins a
# thread, and ends by returning from the worker.
cat > "$tmp/worker_fork.py" <<'PY'
import os, sys, threading
from common import *
res = []
def worker():
    pid = os.fork()
    if pid == 0:
        ok = karena_is_malloc() and child_threads(1)
        sys.exit(0 if ok else 3)    # in a thread: it ends the thread only
    res.append(wait(pid))
ts = [threading.Thread(target=worker) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
print("children", res)
PY
run worker_fork "children [0, 0]"

# The main thread forks while three threads allocate; each child starts
# and joins threads and ends in one of three ways.
cat > "$tmp/main_fork_busy.py" <<'PY'
import os, sys
from common import *
stop, ts = start_churn()
res = []
for how in ("return", "sys.exit", "_exit"):
    pid = os.fork()
    if pid == 0:
        ok = karena_is_malloc() and child_threads()
        if how == "_exit":
            os._exit(0 if ok else 3)
        if how == "sys.exit" or not ok:
            sys.exit(0 if ok else 3)
        break           # "return": the child runs to the end of the script
    res.append(wait(pid))
else:
    stop_churn(stop, ts)
    print("children", res)
PY
run main_fork_busy "children [0, 0, 0]"

# Workers fork while others allocate; the child forks again from a worker
# of its own, and so does the grandchild.
cat > "$tmp/fork_again.py" <<'PY'
import os, sys, threading
from common import *
def generation(depth):
    """Fork from a new thread; the child lives and maybe forks again."""
    res = []
    def worker():
        pid = os.fork()
        if pid == 0:
            ok = karena_is_malloc() and child_threads()
            if ok and depth > 0:
                ok = generation(depth - 1) == [0]
            sys.exit(0 if ok else 3)
        res.append(wait(pid))
    t = threading.Thread(target=worker)
    t.start(); t.join()
    return res
stop, ts = start_churn()
res = [generation(2) for _ in range(4)]
stop_churn(stop, ts)
print("generations", res)
PY
run fork_again "generations [[0], [0], [0], [0]]"

# subprocess from four threads at once while others allocate.
cat > "$tmp/subprocess_threads.py" <<'PY'
import subprocess, sys, threading
from common import *
stop, ts = start_churn(2)
out = []
def spawn(k):
    for i in range(2):
        r = subprocess.run([sys.executable, "-c",
                            "import threading; t = threading.Thread(target=print, args=(%d,)); t.start(); t.join()" % k],
                           capture_output=True, text=True)
        out.append(r.returncode == 0 and r.stdout.strip() == str(k))
ws = [threading.Thread(target=spawn, args=(k,)) for k in range(4)]
for w in ws: w.start()
for w in ws: w.join()
stop_churn(stop, ts)
print("subprocesses", len(out), all(out))
PY
run subprocess_threads "subprocesses 8 True"

# multiprocessing's Pool over fork, forkserver and spawn: every task's
# result comes back, computed where karena is malloc. A lost task hangs
# Pool.map (the watchdog's failure). FORK_POOL_ROUNDS times: 1, or 20 under
# KARENA_SOAK=1.
rounds=${FORK_POOL_ROUNDS:-$([ "${KARENA_SOAK:-0}" = 1 ] && echo 20 || echo 1)}
cat > "$tmp/pool_methods.py" <<PY
import multiprocessing as mp
from common import *
def f(x):
    return sum(i * i for i in range(x)), karena_is_malloc()
if __name__ == "__main__":
    seen = set()
    for rnd in range($rounds):
        for method in ("fork", "forkserver", "spawn"):
            with mp.get_context(method).Pool(2) as p:
                r = p.map(f, range(300))
            seen.add((method, sum(v for v, _ in r), all(k for _, k in r)))
    print(sorted(seen))
PY
FORK_WATCHDOG=$((${FORK_WATCHDOG:-120} * rounds)) \
	run pool_methods "[('fork', 666037450, True), ('forkserver', 666037450, True), ('spawn', 666037450, True)]"

tap_done
