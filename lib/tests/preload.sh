#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# preload.sh - real programs under LD_PRELOAD=libkarena-malloc.so: their
# output must match a run without it, and the stats printed at exit
# (KARENA_SHOW_STATS=1) must show that arenas served allocations. TAP.
# Takes the backend from the environment like the other tests.
here=$(cd "$(dirname "$0")" && pwd)
lib=${KARENA_PRELOAD:-$here/../libkarena-malloc.so}
. "$here/tap.sh"

# served NAME: the stats at exit show arenas granted and blocks handed out
served() {
	grep -q '^karena: backend' "$tmp/$1.err" &&
	awk '/arenas allocated total/ { if ($NF > 0) found = 1 } END { exit !found }' "$tmp/$1.err"
}

# check NAME CMD...: run CMD with and without the preload; both must exit
# 0 with the same output.
check() {
	name=$1; shift
	"$@" > "$tmp/$name.ref" 2>/dev/null < /dev/null
	ref=$?
	LD_PRELOAD=$lib KARENA_SHOW_STATS=1 "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" < /dev/null
	st=$?
	if [ $st = 0 ] && [ $ref = 0 ] && cmp -s "$tmp/$name.ref" "$tmp/$name.out"; then
		ok "$name: same output and status ($st) under LD_PRELOAD"
	else
		notok "$name: under LD_PRELOAD status $st, without it $ref (0 wanted), or another output"
		diff "$tmp/$name.ref" "$tmp/$name.out" | head -5 | sed 's/^/# /'
		grep -v '^#\|^ ' "$tmp/$name.err" | head -5 | sed 's/^/# /'
	fi
	if served "$name"; then
		ok "$name: karena served its small allocations ($(awk '/blocks in use  *=/ {print $NF; exit}' "$tmp/$name.err") blocks in use at exit)"
	else
		notok "$name: no sign that karena served allocations"
	fi
}

[ -f "$lib" ] || { echo "1..0 # SKIP $lib not built"; exit 0; }

# python3: big dicts, lists, strings, built and freed, in threads too
py=$(command -v python3 >/dev/null && python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
if [ -n "$py" ]; then
	cat > "$tmp/work.py" <<'PY'
import threading, hashlib
h = hashlib.sha256()
for rnd in range(3):
    d = {("k%d" % i) * (1 + i % 5): [i, str(i), (i, i * 2)] for i in range(150000)}
    l = [str(i) * (i % 7) for i in range(200000)]
    s = "".join(l[:20000])
    h.update(repr(sorted(d.items())[:1000]).encode() + s.encode())
    del d, l, s
def work(k, out):
    x = {i: "v" * (i % 50) for i in range(50000)}
    out[k] = sum(len(v) for v in x.values())
out = {}
ts = [threading.Thread(target=work, args=(k, out)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sorted(out.items()), h.hexdigest())
PY
	check python3 "$py" "$tmp/work.py"
else
	skip "python3" "python3 not installed"; skip "python3 served" "python3 not installed"
fi

# sqlite3: a scripted workload
if command -v sqlite3 >/dev/null; then
	cat > "$tmp/work.sql" <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, grp INT, val REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000)
INSERT INTO t SELECT x, printf('name-%08d-%s', x, hex(x * 7919)), x % 97, x * 0.5 FROM c;
CREATE INDEX t_grp ON t(grp, name);
SELECT grp, count(*), sum(val), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 10;
UPDATE t SET name = name || '-updated' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), sum(length(name)), group_concat(substr(name, 1, 4), '') IS NOT NULL FROM t;
SELECT name FROM t WHERE grp = 42 ORDER BY name DESC LIMIT 5;
SQL
	check sqlite3 sqlite3 :memory: ".read $tmp/work.sql"
else
	skip "sqlite3" "sqlite3 not installed (tools/install-deps.sh installs it)"
	skip "sqlite3 served" "sqlite3 not installed"
fi

# bash: a shell's own heap (arrays, an associative array, expansions), and
# the subshells and pipeline it forks
if command -v bash >/dev/null; then
	cat > "$tmp/work.bash" <<'SH'
declare -A m; a=()
for ((i = 0; i < 8000; i++)); do m["k$i"]=$((i * 7 % 1000)); a+=("${i}x$((i % 13))"); done
s=0; for k in "${!m[@]}"; do s=$((s + ${m[$k]})); done
t=$(printf '%s,' "${a[@]:0:3000}"); t=${t//x/-}
unset 'a[1]'; b=("${a[@]/#/p}")
echo "$s ${#a[@]} ${#b[@]} ${#t} ${b[2]}" | while read -r x y z w v; do echo "$((x + y)) $z $w $v"; done
SH
	check bash bash "$tmp/work.bash"
else
	skip "bash" "bash not installed"; skip "bash served" "bash not installed"
fi

# cc1, GCC's compiler proper, at -O2 on a generated translation unit that
# needs no header (in the VM there is neither gcc's driver nor /usr/include)
cc1=$(gcc -print-prog-name=cc1 2>/dev/null)
[ -x "$cc1" ] || cc1=$(ls /usr/lib/gcc/*/*/cc1 2>/dev/null | tail -n 1)
if [ -x "$cc1" ]; then
	awk 'BEGIN {
		print "struct s { int a[8]; double d; const char *n; struct s *next; };"
		for (i = 0; i < 30; i++)
			printf "int f%d(struct s *p, int n)\n{\n\tint r = %d;\n\n" \
			"\tfor (int i = 0; i < n; i++) {\n\t\tswitch ((i + r) %% 7) {\n" \
			"\t\tcase 0: r += p->a[i & 7] * %d; break;\n" \
			"\t\tcase 1: r ^= (int)(p->d * i); break;\n" \
			"\t\tcase 2: r -= f%d(p->next, n - 1); break;\n" \
			"\t\tcase 3: p->a[(r + i) & 7] = r; break;\n" \
			"\t\tdefault: r += (int)__builtin_strlen(p->n) + %d;\n" \
			"\t\t}\n\t}\n\treturn r;\n}\n", i, i, i, i ? i - 1 : 0, i
	}' > "$tmp/work.c"
	check cc1 "$cc1" -fpreprocessed -quiet -O2 "$tmp/work.c" -o -
else
	skip "cc1" "GCC's cc1 not installed"; skip "cc1 served" "cc1 not installed"
fi

# a multi-threaded C program with cross-thread frees
if [ -x "$here/mt_prog" ]; then
	check mt_prog "$here/mt_prog"
else
	skip "mt_prog" "not built (make -C lib tests)"; skip "mt_prog served" "not built"
fi

# mallinfo2(), mallinfo() and malloc_stats() report karena's heap
if [ -x "$here/mallinfo_prog" ]; then
	if LD_PRELOAD=$lib "$here/mallinfo_prog" > "$tmp/mi.out" 2> "$tmp/mi.err" < /dev/null; then
		ok "mallinfo2/mallinfo under LD_PRELOAD count karena's blocks: $(head -1 "$tmp/mi.out")"
	else
		notok "mallinfo2/mallinfo under LD_PRELOAD miss karena's blocks"
		sed 's/^/# /' "$tmp/mi.out"
	fi
	if grep -q '^karena: backend' "$tmp/mi.err" && grep -q '^# blocks in use' "$tmp/mi.err" &&
	   grep -q '^Total (incl. mmap)' "$tmp/mi.err"; then
		ok "malloc_stats under LD_PRELOAD prints karena's table, then glibc's summary"
	else
		notok "malloc_stats under LD_PRELOAD"; head -5 "$tmp/mi.err" | sed 's/^/# /'
	fi
else
	skip "mallinfo_prog" "not built (make -C lib tests)"; skip "malloc_stats" "not built"
fi

# malloc_trim hands karena's free memory back at once, another thread's too
# (the purge delay at its longest, so that only the trim can)
if [ -x "$here/trim_prog" ]; then
	if KARENA_PURGE_MS=1000000 KARENA_PURGE_THREAD=0 LD_PRELOAD=$lib \
	   "$here/trim_prog" > "$tmp/trim.out" 2>&1 < /dev/null; then
		ok "malloc_trim under LD_PRELOAD hands karena's free memory back: $(head -1 "$tmp/trim.out")"
	else
		notok "malloc_trim under LD_PRELOAD"
		sed 's/^/# /' "$tmp/trim.out" | head -10
	fi
else
	skip "trim_prog" "not built (make -C lib tests)"
fi

# the malloc family at its edges: overflows, alignments, calloc, sizes
if [ -x "$here/shim_prog" ]; then
	if LD_PRELOAD=$lib "$here/shim_prog" > "$tmp/shim.out" 2>&1 < /dev/null; then
		ok "malloc, calloc, realloc, the aligned ones and malloc_usable_size at their edges"
	else
		notok "the malloc family at its edges under LD_PRELOAD"
		sed 's/^/# /' "$tmp/shim.out" | head -10
	fi
else
	skip "shim_prog" "not built (make -C lib tests)"
fi

# debug mode on a real program: no false alarm
if [ -n "$py" ]; then
	if LD_PRELOAD=$lib KARENA_DEBUG=1 "$py" -c 'd = {str(i): [i] * 3 for i in range(100000)}; del d; print("fine")' 2>"$tmp/dbg.err" | grep -q fine; then
		ok "python3 under KARENA_DEBUG=1 runs clean"
	else
		notok "python3 under KARENA_DEBUG=1"; head -3 "$tmp/dbg.err" | sed 's/^/# /'
	fi
fi

tap_done
