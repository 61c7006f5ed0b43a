#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""alloc_ir.py - instructions spent inside malloc() and free(), from a
callgrind output file.

    alloc_ir.py CALLGRIND_OUT

Prints the inclusive instruction count (the function and everything it
called) of the function named malloc plus that of the function named free,
whichever allocator provided them. Where several functions carry the name
(glibc's malloc.c and arena.c), the largest is the entry point. Work an
allocator does on a thread of its own (karena's purge thread) is not
counted: it is not on the caller's path.
"""
import re
import subprocess
import sys

# "  13,115,475 (34.91%)  /path/malloc_shim.c:malloc [/path/lib.so]"
LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+\S*?:(\w+)(\s+\[.*\])?\s*$")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                          sys.argv[1]], capture_output=True, text=True, check=True).stdout
    best = {"malloc": 0, "free": 0}
    for line in ann.splitlines():
        m = LINE.match(line)
        if m and m.group(2) in best:
            best[m.group(2)] = max(best[m.group(2)], int(m.group(1).replace(",", "")))
    if not all(best.values()):
        sys.exit("alloc_ir.py: no malloc or free in %s" % sys.argv[1])
    print(best["malloc"] + best["free"])


if __name__ == "__main__":
    main()
