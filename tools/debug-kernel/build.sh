#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the debug 6.1 kernel of the test matrix (KASAN, lockdep, kmemleak,
# KFENCE, UBSAN, ...) from Debian's linux-source-6.1 and leave, for
# tools/vm/kernels.sh and tools/build-module.sh:
#
#   build/debug-kernel/bzImage         the kernel QEMU boots
#                                      (build/debug-kernel links to
#                                      $KARENA_DEBUG_KERNEL_DIR, by default
#                                      /var/cache/karena/debug-kernel)
#   build/debug-kernel/kernelrelease   its release string
#   build/debug-kernel/src             the build tree, usable as KDIR
#                                      (Module.symvers, modules_prepare done)
#
#   tools/debug-kernel/build.sh [-f]   (-f: rebuild even if the stamp matches)
#
# Steps: unpack /usr/src/linux-source-6.1.tar.xz, `make tinyconfig`, merge
# config.fragment, `make olddefconfig`, check that every option of the
# fragment is in the final .config (tinyconfig's SLOB and KERNEL_XZ make
# olddefconfig drop KASAN, KFENCE and SLUB_DEBUG silently), plain `make`
# (so that Module.symvers exists), `make modules_prepare`.
#
# Reuse: build/debug-kernel/stamp holds a hash of config.fragment, the
# recipe number below and the linux-source package version; when it matches and the
# outputs exist nothing is done. The build happens in place and the stamp is
# written last, so an interrupted run is simply resumed by the next one.
# KARENA_JOBS sets make's -j (2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# The tree lives outside the work tree (a fresh clone, as in CI, reuses it
# on the same machine); build/debug-kernel is a link to it.
out=${KARENA_DEBUG_KERNEL_DIR:-/var/cache/karena/debug-kernel}
src=$out/src
mkdir -p "$top/build"
if [ "$(readlink "$top/build/debug-kernel" 2>/dev/null)" != "$out" ]; then
	rm -rf "$top/build/debug-kernel"
	ln -s "$out" "$top/build/debug-kernel"
fi
fragment=$here/config.fragment
jobs=${KARENA_JOBS:-2}
force=0
[ "${1:-}" = -f ] && force=1

tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n1 || true)
[ -n "$tarball" ] || {
	echo "debug-kernel: no /usr/src/linux-source-6.1.tar.* (run tools/install-deps.sh)" >&2
	exit 1
}
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
[ -n "$srcver" ] || srcver=$(stat -c '%s %Y' "$tarball")
# Bump recipe when a change to the steps below changes what gets built
# (editing comments or paths must not cost a 15-30 minute rebuild).
recipe=1
stamp=$( { cat "$fragment"; echo "$srcver recipe=$recipe"; } | sha256sum | cut -d' ' -f1)

if [ "$force" = 0 ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] &&
   [ -f "$out/bzImage" ] && [ -s "$out/kernelrelease" ] && [ -f "$src/Module.symvers" ]; then
	echo "debug-kernel: up to date ($(cat "$out/kernelrelease"), $out)"
	exit 0
fi

if [ "$force" = 1 ]; then
	reason="forced (-f)"
elif [ ! -f "$out/stamp" ]; then
	reason="no finished build in $out"
elif [ "$(cat "$out/stamp")" != "$stamp" ]; then
	reason="config.fragment, the recipe or linux-source-6.1 ($srcver) changed"
else
	reason="outputs missing in $out"
fi
echo "debug-kernel: building: $reason"
start=$(date +%s)
mkdir -p "$out"
rm -f "$out/stamp"

# Unpack, unless the tree already came from this very tarball. The marker is
# written after tar finishes, so a half-unpacked tree is unpacked again.
if [ ! -f "$src/.karena-source" ] || [ "$(cat "$src/.karena-source")" != "$srcver" ]; then
	echo "debug-kernel: unpacking $tarball"
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -xf "$tarball" -C "$src.tmp" --strip-components=1
	echo "$srcver" > "$src.tmp/.karena-source"
	mv "$src.tmp" "$src"
fi

# Kbuild must not append a "+" from the surrounding git work tree.
export LOCALVERSION=
m() { make -C "$src" -s ARCH=x86_64 "$@"; }

m tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$fragment" >/dev/null
m olddefconfig >/dev/null

# Every option of the fragment must be in the final .config, as written.
dropped=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*)
		grep -qxF -- "$line" "$src/.config" || dropped+=("$line  (got: $(grep -E "^(# )?${line%%=*}[= ]" "$src/.config" || echo absent))") ;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }; sym=${sym%% *}
		if grep -q "^$sym=" "$src/.config"; then
			dropped+=("$line  (got: $(grep "^$sym=" "$src/.config"))")
		fi ;;
	esac
done < "$fragment"
if [ ${#dropped[@]} -gt 0 ]; then
	echo "debug-kernel: olddefconfig did not keep these options of $fragment:" >&2
	printf '  %s\n' "${dropped[@]}" >&2
	exit 1
fi

m -j"$jobs"
m modules_prepare
cp "$src/arch/x86/boot/bzImage" "$out/bzImage.tmp"
mv "$out/bzImage.tmp" "$out/bzImage"
m kernelrelease > "$out/kernelrelease"
echo "$stamp" > "$out/stamp"
echo "debug-kernel: built $(cat "$out/kernelrelease") in $(( $(date +%s) - start ))s"
