#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make style: checkpatch --strict on kmod/ (from Debian's linux-source-6.1,
# unpacked by tools/install-deps.sh) and clang-format on lib/ and tools/.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rc=0
cp=/usr/src/linux-source-6.1/scripts/checkpatch.pl
[ -x "$cp" ] || bash tools/install-deps.sh
# the tracked sources only: a module build leaves karena.mod.c beside them
mapfile -t kmod_src < <(git ls-files 'kmod/*.[ch]')
"$cp" --no-tree --strict --quiet --ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES \
	-f "${kmod_src[@]}" || rc=1
if command -v clang-format >/dev/null && [ -f .clang-format ]; then
	find lib tools -name '*.[ch]' -print0 |
		xargs -0 clang-format --dry-run -Werror || rc=1
fi
exit $rc
