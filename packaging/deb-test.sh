#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debian/, tested natively (make check runs it; TAP output):
#
#  1. the changelog's version is VERSION's; debian/control names the four
#     packages
#  2. dpkg-buildpackage -us -uc -b of a copy of the tree, with KDIR and
#     KSFT_SRC pointing nowhere (the build needs no kernel tree and no
#     linux-source); lintian finds no error (and, with the overrides of
#     debian/, no warning)
#  3. each .deb holds exactly the expected files; unpacked together
#     (dpkg -x) into a scratch root, karenactl runs and reports VERSION, a
#     program builds against the headers and pkg-config file and runs on
#     the library; karena-dkms' source tree is what `make dkms` installs
#     (which packaging/test.sh builds with dkms for 6.1 and 6.12 and loads
#     in the VM), and its postinst and prerm run dkms
#
# About 2 minutes on a 2 vCPU machine, most of it dpkg-buildpackage and
# lintian.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PATH=$PATH:/sbin:/usr/sbin
version=$(cat VERSION)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
. packaging/tap.sh
tap_begin deb

# ---- 1. the debian/ files ----
[ "$(dpkg-parsechangelog -S Version)" = "$version" ]
ok $? "debian/changelog's version is VERSION's ($version)"
[ "$(sed -n 's/^Package: //p' debian/control | sort | tr '\n' ' ')" = \
	"karena-dkms karena-tools libkarena-dev libkarena0 " ]
ok $? "debian/control: karena-dkms, karena-tools, libkarena-dev, libkarena0"

# ---- 2. build and lintian ----
src=$tmp/karena-$version
mkdir -p "$src"
if git rev-parse --git-dir > /dev/null 2>&1; then
	git ls-files -co --exclude-standard | while read -r f; do [ -e "$f" ] && echo "$f"; done |
		tar -cf - -T - | tar -C "$src" -xf -
else
	tar -cf - --exclude=./build --exclude='*.o' --exclude='*.ko' . | tar -C "$src" -xf -
fi
(cd "$src" && KDIR=/nonexistent KSFT_SRC=/nonexistent dpkg-buildpackage -us -uc -b) \
	> "$tmp/build.log" 2>&1
st=$?
ok $st "dpkg-buildpackage -us -uc -b (KDIR and KSFT_SRC pointing nowhere)"
[ $st = 0 ] || show "$tmp/build.log"
changes=$tmp/karena_${version}_$arch.changes
lintian "$changes" > "$tmp/lintian.log" 2>&1
grep -v 'running with root privileges' "$tmp/lintian.log" > "$tmp/lintian.tags"
[ -f "$changes" ] && ! grep -q '^E: ' "$tmp/lintian.tags"
ok $? "lintian: no error"
[ -f "$changes" ] && ! grep -q '^[EW]: ' "$tmp/lintian.tags"
ok $? "lintian: no warning either (debian/*.lintian-overrides say why two are overridden)"
show "$tmp/lintian.tags"

# ---- 3. the packages ----
expect() {
	local deb=$1
	shift
	dpkg-deb -c "$tmp/$deb" 2> /dev/null | awk '{print $6}' | sed 's|^\./||' |
		grep -v '/$' | grep -v '^$' |
		grep -v '^usr/share/doc/[^/]*/\(changelog\.gz\|copyright\)$' |
		sort > "$tmp/got"
	printf '%s\n' "$@" | sort > "$tmp/want"
	diff -u "$tmp/want" "$tmp/got" > "$tmp/diff"
	ok $? "$deb holds exactly: $*"
	show "$tmp/diff"
}
expect "libkarena0_${version}_$arch.deb" \
	"usr/lib/$ma/libkarena.so.$version" "usr/lib/$ma/libkarena.so.0" \
	"usr/lib/$ma/libkarena-malloc.so" usr/share/lintian/overrides/libkarena0
expect "libkarena-dev_${version}_$arch.deb" \
	usr/include/karena.h usr/include/linux/karena.h "usr/lib/$ma/libkarena.a" \
	"usr/lib/$ma/libkarena.so" "usr/lib/$ma/pkgconfig/karena.pc" \
	usr/share/man/man3/karena.3.gz
expect "karena-tools_${version}_$arch.deb" \
	usr/bin/karenactl lib/udev/rules.d/60-karena.rules \
	usr/share/man/man4/karena.4.gz usr/share/man/man8/karenactl.8.gz \
	usr/share/doc/karena-tools/examples/60-karena-group.rules \
	usr/share/doc/karena-tools/examples/karena.conf \
	usr/share/lintian/overrides/karena-tools
expect "karena-dkms_${version}_all.deb" \
	$(make -s dkms DESTDIR="$tmp/dkms" > /dev/null 2>&1 &&
		cd "$tmp/dkms" && find usr -type f | sort)

root=$tmp/root
for d in "$tmp"/*.deb; do
	case "$d" in *-dbgsym_*) continue ;; esac
	dpkg -x "$d" "$root"
done
[ "$(LD_LIBRARY_PATH=$root/usr/lib/$ma "$root/usr/bin/karenactl" -V)" = "karenactl $version" ]
ok $? "karenactl from karena-tools runs: 'karenactl $version'"
cat > "$tmp/use.c" <<'EOF'
#include <karena.h>
#include <linux/karena.h>
#include <stdio.h>

int main(void)
{
	void *p = karena_calloc(3, 40);

	if (!p || KARENA_IOC_INFO == 0)
		return 1;
	karena_free(p);
	puts(karena_backend());
	return 0;
}
EOF
pc() { PKG_CONFIG_PATH=$root/usr/lib/$ma/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root pkg-config "$@" karena; }
cc -o "$tmp/use" "$tmp/use.c" $(pc --cflags --libs) 2> "$tmp/cc.err" &&
	[ "$(KARENA_BACKEND=mmap LD_LIBRARY_PATH=$root/usr/lib/$ma "$tmp/use")" = mmap ]
ok $? "a program built with libkarena-dev's pkg-config file runs on libkarena0"
show "$tmp/cc.err"
diff -r "$tmp/dkms/usr/src" "$root/usr/src" > "$tmp/diff"
ok $? "karena-dkms' /usr/src/karena-$version is what make dkms installs"
show "$tmp/diff"
dpkg-deb -e "$tmp/karena-dkms_${version}_all.deb" "$tmp/control"
grep -q '^DKMS_NAME=karena$' "$tmp/control/postinst" &&
	grep -q "^DKMS_VERSION=$version\$" "$tmp/control/postinst" &&
	grep -q '/usr/lib/dkms/common.postinst' "$tmp/control/postinst" &&
	grep -q 'dkms remove' "$tmp/control/prerm" &&
	dpkg-deb -f "$tmp/karena-dkms_${version}_all.deb" Depends | grep -q dkms
ok $? "karena-dkms depends on dkms; its postinst runs dkms' common.postinst for karena $version, its prerm dkms remove"

tap_end
