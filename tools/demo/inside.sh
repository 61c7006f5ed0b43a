#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The demo's script inside the VM (busybox sh, karena.ko loaded).
set -e
show() { printf '\n$ %s\n' "$*"; "$@"; }
counters() {
	for f in /sys/class/misc/karena/*; do
		case "${f##*/}" in dev|uevent) continue ;; esac
		[ -f "$f" ] && [ -r "$f" ] && printf '  %-22s %s\n' "${f##*/}" "$(cat "$f" 2>/dev/null)"
	done
}
show ls -l /dev/karena
show grep karena /proc/modules
printf '\n$ sysfs counters in /sys/class/misc/karena/\n'; counters
show ls /sys/module/karena/parameters/
show tools/demo/karena-demo 4
printf '\n$ sysfs counters after the program exited\n'; counters
if [ -x tools/karenactl/karenactl ]; then
	show tools/karenactl/karenactl status
	show tools/karenactl/karenactl limits
	( tools/karenactl/karenactl monitor -n 6 > /tmp/monitor.out 2>&1 & )
	sleep 1
	tools/demo/karena-demo 2 > /dev/null || true
	wait
	sleep 1
	printf '\n$ karenactl monitor -n 6 (while karena-demo 2 ran)\n'; cat /tmp/monitor.out
	tools/demo/karena-demo 2 3 > /dev/null &
	tools/demo/karena-demo 5 3 > /dev/null &
	sleep 1
	show tools/karenactl/karenactl holders
	wait
fi
