#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# programs.sh - everyday programs under LD_PRELOAD=libkarena-malloc.so:
# shells, two compilers (gcc driving its assembler and linker, clang++),
# git with its threaded pack, perl, sort, xz and zstd on two threads,
# tar, awk, jq and tclsh. Each runs
# twice in a directory of its own, without and with the preload, and
# must print the same, exit the same and write the same files; every
# process of the preloaded run inherits the preload. A program that is
# not installed is skipped, by name. TAP; the backend comes from the
# environment like the other tests (python3 and sqlite3: preload.sh and
# fork.sh; Python's own test suite: pytests.sh).
here=$(cd "$(dirname "$0")" && pwd)
lib=${KARENA_PRELOAD:-$here/../libkarena-malloc.so}
. "$here/tap.sh"

[ -f "$lib" ] || { echo "1..0 # SKIP $lib not built"; exit 0; }

# Fixed dates and names, so that git's hashes and tar's headers repeat.
export GIT_AUTHOR_NAME=karena GIT_AUTHOR_EMAIL=karena@example.org
export GIT_COMMITTER_NAME=karena GIT_COMMITTER_EMAIL=karena@example.org
export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'
export GIT_CONFIG_NOSYSTEM=1 HOME=$tmp LC_ALL=C TZ=UTC

# run DIR SCRIPT [VAR=VALUE...]: SCRIPT (sh, with the VARs in its
# environment) in DIR, its output in DIR.out, its status in DIR.st.
run() {
	dir=$1 script=$2
	shift 2
	mkdir -p "$dir"
	(cd "$dir" && env "$@" sh -c "$script") > "$dir.out" 2> "$dir.err" < /dev/null
	echo $? > "$dir.st"
}

# program NAME NEEDS LEAST SCRIPT: SCRIPT's output, status and files,
# without and with the preload; but git's index, which records the files'
# inodes and times, and its packs, whose deltas two threads may choose
# differently from run to run (their objects are compared by fsck and
# count-objects). KARENA_VERBOSE=1 has each preloaded process say so on stderr
# as it starts (KARENA_SHOW_STATS would not do: sort, xz and mawk close
# stderr before the exit that would print it, dash leaves by _exit); at
# least LEAST processes must say so.
program() {
	name=$1 needs=$2 least=$3 script=$4
	for p in $needs; do
		command -v "$p" > /dev/null 2>&1 ||
			{ skip "$name" "$p is not installed"; return; }
	done
	ref=$tmp/$name.ref kar=$tmp/$name.kar
	run "$ref" "$script"
	run "$kar" "$script" LD_PRELOAD="$lib" KARENA_VERBOSE=1
	if [ "$(cat "$ref.st")" != 0 ]; then
		notok "$name: fails without the preload too (status $(cat "$ref.st"))"
		sed 's/^/# /' "$ref.err" | head -5
	elif [ "$(cat "$kar.st")" = 0 ] && cmp -s "$ref.out" "$kar.out" &&
	     diff -r -x index -x pack "$ref" "$kar" > /dev/null; then
		ok "$name: same output, status and files under LD_PRELOAD"
	else
		notok "$name: differs under LD_PRELOAD (status $(cat "$kar.st"))"
		diff "$ref.out" "$kar.out" | head -5 | sed 's/^/# /'
		diff -rq -x index -x pack "$ref" "$kar" | head -5 | sed 's/^/# /'
		grep -v '^karena: backend' "$kar.err" | head -5 | sed 's/^/# /'
	fi
	procs=$(grep -c '^karena: backend' "$kar.err")
	if [ "$procs" -ge "$least" ]; then
		ok "$name: karena was the malloc of $procs processes (at least $least)"
	else
		notok "$name: karena was the malloc of $procs processes, fewer than $least"
	fi
}

# Shells: strings, arithmetic, pipes, subshells and background jobs.
program dash "dash" 5 '
dash -c "
	i=0 s=
	while [ \$i -lt 3000 ]; do s=\"\$s\${i}x\"; i=\$((i + 1)); done
	echo \${#s}
	for j in 1 2 3 4; do (echo job \$j; seq 1 \$((j * 500)) | wc -l) & done
	wait
" | sort'
program bash "bash" 3 '
bash -c "
	declare -A h; a=()
	for ((i = 0; i < 20000; i++)); do h[k\$i]=\$((i * i)); a+=(\"\$i\"); done
	s=0; for k in \"\${!h[@]}\"; do s=\$((s + h[\$k])); done
	echo \$s \${#a[@]} \${a[19999]}
	x=\$(printf %s {1..5000}); echo \${#x} \${x:100:20}
	for j in 1 2 3; do { sleep 0; echo bg \$j; } & done; wait
" | sort'

# A compiler: gcc runs cc1, as and ld (collect2), every one preloaded; the
# object and the program must be the same bytes, and print the same.
cat > "$tmp/prog.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char name[40]; };

int main(void)
{
	struct node *head = NULL, *n;
	unsigned long sum = 0;
	int i;

	for (i = 0; i < 100000; i++) {
		n = malloc(sizeof(*n));
		snprintf(n->name, sizeof(n->name), "node %d", i);
		n->next = head;
		head = n;
	}
	while (head) {
		n = head->next;
		sum += strlen(head->name);
		free(head);
		head = n;
	}
	printf("%lu\n", sum);
	return 0;
}
C
program cc "gcc" 6 "
cp '$tmp/prog.c' . && gcc -O2 -Wall -c prog.c -o prog.o && gcc -O2 prog.c -o prog &&
./prog && gcc -O2 -E prog.c | wc -l"

# git: a repository of some hundred files and three commits, packed by
# gc (pack-objects on two threads), then checked by fsck.
program git "git" 10 '
git init -q -b main repo && cd repo &&
for c in 1 2 3; do
	for f in $(seq 1 150); do seq $f $((f * c + 400)) > f$f.txt; done
	git add -A && git commit -q -m "commit $c"
done &&
git -c pack.threads=2 gc -q --aggressive && git fsck --full --no-progress &&
git log --format="%H %s" && git count-objects -v | grep -v size'

# perl: a hash of 300k entries, sorted and joined.
program perl "perl" 2 "
perl -e '
	my %h; \$h{\"k\$_\"} = \"v\" x (\$_ % 37) for 1 .. 300000;
	my \$n = 0; \$n += length(\$h{\$_}) for sort keys %h;
	my @w = map { join(\",\", \$_, scalar reverse \$_) } 1 .. 50000;
	print \$n, \" \", scalar(@w), \" \", \$w[-1], \"\n\";
'"

# sort on two threads and xz on two, both over a few MB.
program sort "sort seq" 5 '
seq 1 400000 | awk "{ print (\$1 * 7919) % 400009, \$1 }" > in.txt &&
sort --parallel=2 -S 8M -n in.txt | md5sum'
program xz "xz tar" 6 '
seq 1 300000 > a.txt && tar -cf a.tar --owner=0 --group=0 --mtime=@0 a.txt &&
xz -T2 -k -6 a.tar && xz -d -c a.tar.xz | tar -tvf - && xz -l a.tar.xz | tail -1'

# awk: associative arrays, split and string building.
program awk "awk" 3 '
seq 1 200000 | awk "{ h[\$1 % 5003] = h[\$1 % 5003] \$1 \",\" }
	END { n = 0; for (k in h) n += split(h[k], f, \",\"); print n }"'

# clang: a C++ program of templates (maps, strings, a regex), compiled,
# linked by ld and run; LLVM's heap is a compiler's of another family.
cat > "$tmp/prog.cc" <<'CC'
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <vector>

int main()
{
	std::map<std::string, std::vector<int>> groups;
	std::regex odd("[13579]$");
	long matched = 0;

	for (int i = 0; i < 200000; i++)
		groups[std::to_string(i % 4999)].push_back(i);
	for (auto &g : groups)
		matched += std::regex_search(g.first, odd) * g.second.size();
	std::cout << groups.size() << " " << matched << "\n";
	return 0;
}
CC
program clang "clang++" 5 "
cp '$tmp/prog.cc' . && clang++ -O1 -std=c++17 prog.cc -o prog && ./prog"

# zstd on two threads, over a few MB, both ways.
program zstd "zstd seq" 5 '
seq 1 600000 > a.txt && zstd -q -T2 -3 -c a.txt | zstd -q -d -c | md5sum'

# jq: a JSON array of 100k values grouped and summed.
program jq "jq seq" 3 '
seq 1 100000 | jq -s -c "group_by(. % 7) | map([length, add])"'

# tclsh: a dict of 200k strings.
program tclsh "tclsh" 2 "
echo 'set d [dict create]
for {set i 0} {\$i < 200000} {incr i} {dict set d k\$i [string repeat x [expr {\$i % 300}]]}
set n 0; dict for {k v} \$d {incr n [string length \$v]}; puts \"[dict size \$d] \$n\"' | tclsh"

tap_done
