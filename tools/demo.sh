#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot Debian's 6.1 kernel under QEMU with karena.ko and show a
# user what karena does: the device, the sysfs counters, a program being
# granted arenas (in /proc/PID/maps), a denial when a limit is lowered, and
# karenactl's view. Installs what is missing first.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
kernel=${KARENA_DEMO_KERNEL:-6.1}
echo "== installing what is missing and building (quiet)"
bash tools/install-deps.sh
make -s lib tools >/dev/null
bash tools/build-module.sh "$kernel"
echo "== booting Debian $kernel under QEMU"
exec tools/vm/run --kernel "$kernel" -- sh tools/demo/inside.sh
