#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install, idempotently and quietly, every Debian package that building and
# testing karena needs on a fresh Debian bookworm machine (run as root).
#
#   tools/install-deps.sh            build + test dependencies
#   tools/install-deps.sh bench      also the allocators compared in `make bench`
#
# The 6.12 kernel comes from bookworm-security; its exact ABI name is
# discovered (the newest linux-image-6.12.*+deb12-amd64 that has a matching
# headers package), never hard-coded.
set -euo pipefail

want=(build-essential make gcc clang pkg-config bc bison flex cpio gzip
      kmod file libelf-dev libssl-dev libmnl-dev busybox-static
      libclang-rt-14-dev
      qemu-system-x86 linux-image-amd64 linux-headers-amd64
      linux-source-6.1 linux-source-6.12 python3 sqlite3 valgrind gnuplot-nox
      python3-yaml python3-jsonschema
      debhelper dh-dkms dkms lintian fakeroot man-db
      python3-dev python3-setuptools python3-pip python3-wheel python3-venv
      git perl xz-utils tar bash dash mawk zstd jq tcl
      libpython3.11-testsuite)   # bookworm's python3 is 3.11: lib/tests/pytests.sh
if [ "${1:-}" = bench ]; then
	want+=(libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0)
fi

missing() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed' || echo "$p"
	done
}

export DEBIAN_FRONTEND=noninteractive
updated=
apt_update() {
	[ -n "$updated" ] && return 0
	apt-get update -qq >/dev/null
	updated=1
}

newest_612() {
	apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' |
		awk '{print $1}' | sed 's/^linux-image-//' | sort -V -r |
		while read -r abi; do
			if apt-cache show "linux-headers-$abi" >/dev/null 2>&1; then
				echo "$abi"
				return
			fi
		done
}

# A 6.12 image already installed satisfies the requirement.
have612=$(ls -d /usr/src/linux-headers-6.12.*+deb12-amd64 2>/dev/null | head -n1 || true)
if [ -z "$have612" ] || ! ls /boot/vmlinuz-6.12.*+deb12-amd64 >/dev/null 2>&1; then
	apt_update
	abi=$(newest_612)
	if [ -z "$abi" ]; then
		echo "install-deps: no linux-image-6.12.*+deb12-amd64 in the archive (is bookworm-security in sources?)" >&2
		exit 1
	fi
	want+=("linux-image-$abi" "linux-headers-$abi")
fi

todo=$(missing "${want[@]}")
if [ -n "$todo" ]; then
	apt_update
	echo "install-deps: installing" $todo
	# Kernel images must not try to build an initramfs for a machine that
	# never boots them; the VM runner makes its own.
	apt-get install -y -qq --no-install-recommends $todo >/dev/null
fi

# linux-source ships as a tarball; unpack the parts we read (kselftest
# headers, checkpatch) once. The debug kernel build unpacks it whole.
src=/usr/src/linux-source-6.1
if [ ! -d "$src" ]; then
	tarball=$(ls /usr/src/linux-source-6.1.tar.* | head -n1)
	mkdir -p "$src.tmp"
	tar -xf "$tarball" -C "$src.tmp" --strip-components=1
	mv "$src.tmp" "$src"
fi
exit 0
