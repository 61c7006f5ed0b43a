#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run karena-fuzz inside the test VM (tools/vm/suite.sh runs tools/tests/*.sh)
# for a fixed number of steps: about a minute on the debug kernel under TCG.
#
#   KARENA_FUZZ_OPS    steps (default 5000; KARENA_SOAK=1: 30000)
#   KARENA_FUZZ_SEED   seed (default: a new one, printed)
#   KARENA_FUZZ_PROCS / KARENA_FUZZ_THREADS   (default 2 / 2)
#
# The seed is always printed, so a failure can be replayed with
#   tools/fuzz/karena-fuzz --seed S --ops N --procs P --threads T
# A time cap (KARENA_FUZZ_MAX_TIME, 240 s; soak 900 s) keeps a slow machine from
# running into the VM's own timeout; the steps done are printed.
here=$(dirname "$0")
fuzz=$here/../fuzz/karena-fuzz
if [ ! -x "$fuzz" ]; then
	echo "1..0 # SKIP $fuzz not built (make -C tools)"
	exit 0
fi
if [ -z "${KARENA_FUZZ_OPS:-}" ] && [ "${KARENA_SOAK:-0}" = 1 ]; then
	KARENA_FUZZ_OPS=30000
	KARENA_FUZZ_MAX_TIME=${KARENA_FUZZ_MAX_TIME:-900}
fi
set -- --ops "${KARENA_FUZZ_OPS:-5000}" \
	--procs "${KARENA_FUZZ_PROCS:-2}" --threads "${KARENA_FUZZ_THREADS:-2}" \
	--max-time "${KARENA_FUZZ_MAX_TIME:-240}"
[ -n "${KARENA_FUZZ_SEED:-}" ] && set -- "$@" --seed "$KARENA_FUZZ_SEED"
exec "$fuzz" "$@"
