# SPDX-License-Identifier: GPL-2.0
# Where each kernel of the test matrix lives, discovered from what is
# installed (the version is never hard-coded). Sourced by tools/vm/run and
# the Makefile's helper scripts.
#
#   6.1    Debian's linux-image-amd64 (bookworm)
#   6.12   Debian's linux-image-6.12.*+deb12-amd64 (bookworm-security)
#   debug  build/debug-kernel (tools/debug-kernel/build.sh)

karena_top=${karena_top:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

kernel_version() {
	local v
	case "$1" in
	6.1|6.12)
		v=$(ls /boot/vmlinuz-"$1".*-amd64 2>/dev/null | sed 's|/boot/vmlinuz-||' |
			grep -E "^$1\.[0-9]+(-[0-9]+)?(\+deb12)?-amd64$" | sort -V | tail -n1)
		[ -n "$v" ] || { echo "no Debian $1 kernel in /boot (run tools/install-deps.sh)" >&2; return 1; }
		echo "$v" ;;
	debug)
		cat "$karena_top/build/debug-kernel/kernelrelease" 2>/dev/null ||
			{ echo "no debug kernel (run tools/debug-kernel/build.sh)" >&2; return 1; } ;;
	*)
		echo custom ;;
	esac
}

kernel_image() {
	case "$1" in
	6.1|6.12) echo "/boot/vmlinuz-$(kernel_version "$1")" ;;
	debug) echo "$karena_top/build/debug-kernel/bzImage" ;;
	*) echo "$1" ;;
	esac
}

kernel_headers() {
	case "$1" in
	6.1|6.12) echo "/usr/src/linux-headers-$(kernel_version "$1")" ;;
	debug) echo "$karena_top/build/debug-kernel/src" ;;
	esac
}
