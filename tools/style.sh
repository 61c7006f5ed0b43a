#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make style: checkpatch --strict on kmod/ (from Debian's linux-source-6.1,
# unpacked by tools/install-deps.sh). The gate is the kernel code's.
#
# lib/ and tools/ are written in the kernel's layout by hand (tabs, 80
# columns, comments aligned with tabs), as userspace C: "unsigned" for
# unsigned int, C11 atomics, no kernel types. clang-format cannot express
# that layout (it re-aligns macros and trailing comments with spaces and
# joins lines the code wraps), and checkpatch's kernel-only rules do not
# apply there, so neither gates them; compiler warnings (-Wall -Wextra
# -Werror) and review do.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
cp=/usr/src/linux-source-6.1/scripts/checkpatch.pl
[ -x "$cp" ] || bash tools/install-deps.sh
# the tracked sources only: a module build leaves karena.mod.c beside them
mapfile -t kmod_src < <(git ls-files 'kmod/*.[ch]')
"$cp" --no-tree --strict --quiet --ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES \
	-f "${kmod_src[@]}" && echo "style: kmod/ is checkpatch --strict clean"
