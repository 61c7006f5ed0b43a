#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build karena.ko for one kernel of the test matrix out of tree, in
# build/<release>/src, and leave build/<release>/karena.ko. Copies keep their
# mtimes, so an unchanged module is not rebuilt.
#
#   tools/build-module.sh 6.1|6.12|debug|<release>
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/vm/kernels.sh"
k=${1:?usage: build-module.sh 6.1|6.12|debug|<release>}
case "$k" in
6.1|6.12|debug) kver=$(kernel_version "$k"); kdir=$(kernel_headers "$k") ;;
*) kver=$k; kdir=/usr/src/linux-headers-$k ;;
esac
[ -d "$kdir" ] || { echo "build-module: no kernel build tree at $kdir" >&2; exit 1; }
out=$top/build/$kver
mkdir -p "$out/src"
cp -a "$top/Kbuild" "$top/VERSION" "$top/kmod" "$out/src/"
make -s -C "$kdir" M="$out/src" KARENA_VERSION="$(cat "$top/VERSION")" modules
cp "$out/src/kmod/karena.ko" "$out/karena.ko"
