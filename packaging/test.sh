#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Installing karena, tested natively (make check runs it; TAP output):
#
#  1. make install into a scratch root (DESTDIR, PREFIX=/usr): exactly the
#     expected files, the module under updates/ for the kernel it was built
#     for; depmod on a copy of that root finds it and the netlink family's
#     alias; the library links through pkg-config and runs; the preload runs
#  2. make uninstall leaves no file behind
#  3. make install-lib install-tools with no kernel tree and no
#     linux-source (KDIR and KSFT_SRC pointing nowhere)
#  4. the man pages render without a groff warning, and karena(3) and
#     karena(4) name every KARENA_* variable the library reads, every
#     ioctl, sysfs file and module parameter
#  5. make dkms into a scratch root, dkms build for the Debian 6.1 and 6.12
#     headers (a scratch dkms tree): modinfo reports VERSION; the 6.1 build
#     loads in the VM
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. tools/vm/kernels.sh
PATH=$PATH:/sbin:/usr/sbin
version=$(cat VERSION)
. packaging/tap.sh
tap_begin install

# files DIR: every file and symlink under DIR, relative, sorted
files() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort); }

kver61=$(kernel_version 6.1) kdir61=$(kernel_headers 6.1)
kver612=$(kernel_version 6.12)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

# ---- 1. make install into a scratch root ----
root=$tmp/root
make -s install DESTDIR="$root" PREFIX=/usr KDIR="$kdir61" > "$tmp/install.log" 2>&1
ok $? "make install DESTDIR=... PREFIX=/usr KDIR=<6.1 headers>"
grep -q "depmod not run; once the files are in /, run: depmod -a $kver61" "$tmp/install.log"
ok $? "with DESTDIR, make install prints the depmod command for $kver61"
cat > "$tmp/expected" <<EOF
lib/modules/$kver61/updates/karena.ko
lib/udev/rules.d/60-karena.rules
usr/bin/karenactl
usr/include/karena.h
usr/include/linux/karena.h
usr/lib/$ma/libkarena-malloc.so
usr/lib/$ma/libkarena.a
usr/lib/$ma/libkarena.so
usr/lib/$ma/libkarena.so.0
usr/lib/$ma/libkarena.so.$version
usr/lib/$ma/pkgconfig/karena.pc
usr/share/doc/karena/examples/60-karena-group.rules
usr/share/doc/karena/examples/karena.conf
usr/share/man/man3/karena.3
usr/share/man/man4/karena.4
usr/share/man/man8/karenactl.8
EOF
files "$root" > "$tmp/got"
diff -u "$tmp/expected" "$tmp/got" > "$tmp/diff"
ok $? "the installed files are exactly the expected 16 (multiarch libdir $ma)"
show "$tmp/diff"
ko=$root/lib/modules/$kver61/updates/karena.ko
[ "$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)" = "$kver61" ] &&
	[ "$(modinfo -F version "$ko")" = "$version" ]
ok $? "the installed module is built for $kver61 and reports version $version"

cp -a "$root" "$tmp/depmod-root"
depmod -b "$tmp/depmod-root" "$kver61" 2> "$tmp/depmod.err"
d=$tmp/depmod-root/lib/modules/$kver61
grep -q '^updates/karena.ko:' "$d/modules.dep" &&
	grep -q '^alias net-pf-16-proto-16-family-karena karena$' "$d/modules.alias"
ok $? "depmod finds updates/karena.ko and the alias net-pf-16-proto-16-family-karena"

# The library as a user of the installed files sees it.
cat > "$tmp/use.c" <<'EOF'
#include <karena.h>
#include <linux/karena.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	char *p = karena_malloc(100);

	if (!p || karena_usable_size(p) < 100 || KARENA_IOC_INFO == 0)
		return 1;
	memset(p, 1, 100);
	karena_free(p);
	printf("%s\n", karena_backend());
	return 0;
}
EOF
pc() { PKG_CONFIG_PATH=$root/usr/lib/$ma/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root pkg-config "$@" karena; }
[ "$(pc --modversion)" = "$version" ] &&
	cc -o "$tmp/use" "$tmp/use.c" $(pc --cflags --libs) 2> "$tmp/cc.err" &&
	[ "$(KARENA_BACKEND=mmap LD_LIBRARY_PATH=$root/usr/lib/$ma "$tmp/use")" = mmap ]
ok $? "pkg-config karena ($version): a program with <karena.h> and <linux/karena.h> builds, links and runs"
show "$tmp/cc.err"
cc -o "$tmp/use-static" "$tmp/use.c" $(pc --cflags) "$root/usr/lib/$ma/libkarena.a" \
	$(pc --static --libs-only-l | sed 's/-lkarena//') 2> "$tmp/cc.err" &&
	[ "$(KARENA_BACKEND=mmap "$tmp/use-static")" = mmap ]
ok $? "and links statically with libkarena.a and pkg-config --static"
out=$(KARENA_BACKEND=mmap KARENA_SHOW_STATS=1 LD_PRELOAD=$root/usr/lib/$ma/libkarena-malloc.so \
	python3 -c 'print("preloaded", len([str(i) for i in range(1000)]))' 2>&1)
case "$out" in *"preloaded 1000"*) st=0 ;; *) st=1 ;; esac
case "$out" in *"karena: backend mmap"*) ;; *) st=1 ;; esac
ok $st "LD_PRELOAD=libkarena-malloc.so runs python3, whose exit statistics name the mmap backend"

# ---- 2. make uninstall ----
make -s uninstall DESTDIR="$root" PREFIX=/usr KDIR="$kdir61" > "$tmp/uninstall.log" 2>&1
st=$?
files "$root" > "$tmp/left"
[ $st = 0 ] && [ ! -s "$tmp/left" ]
ok $? "make uninstall leaves no file behind"
show "$tmp/left" "$tmp/uninstall.log"

# ---- 3. the library and tools without a kernel tree or linux-source ----
root3=$tmp/root3
make -s install-lib install-tools DESTDIR="$root3" KDIR=/nonexistent KSFT_SRC=/nonexistent \
	> "$tmp/lib.log" 2>&1
st=$?
[ $st = 0 ] && [ -f "$root3/usr/local/lib/libkarena.so.$version" ] &&
	[ -x "$root3/usr/local/bin/karenactl" ] && [ -f "$root3/usr/local/include/linux/karena.h" ] &&
	! find "$root3" -name '*.ko' | grep -q .
ok $? "make install-lib install-tools with KDIR and KSFT_SRC pointing nowhere (PREFIX=/usr/local: lib/)"
[ $st = 0 ] || show "$tmp/lib.log"

# ---- 4. man pages ----
for m in lib/karena.3 kmod/karena.4 tools/karenactl/karenactl.8; do
	groff -ww -z -man "$m" > "$tmp/groff.err" 2>&1 && [ ! -s "$tmp/groff.err" ] &&
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$m" 2>&1 > "$tmp/man.out" |
		tee "$tmp/man.err" > /dev/null && [ ! -s "$tmp/man.err" ] && [ -s "$tmp/man.out" ]
	ok $? "$m renders without warnings (groff -ww, man --warnings -l)"
	show "$tmp/groff.err" "$tmp/man.err"
done
# every KARENA_* variable the library reads
vars=$(grep -ho 'env_[a-z]*("KARENA_[A-Z_]*"\|getenv("KARENA_[A-Z_]*"' lib/src/*.c |
	grep -o 'KARENA_[A-Z_]*' | sort -u)
bad=0
for v in $vars KARENA_VERBOSE; do
	grep -q "^\.B $v\$" lib/karena.3 || { echo "# karena(3) lacks $v"; bad=1; }
done
[ -n "$vars" ] || bad=1
ok $bad "karena(3) documents every KARENA_* variable of lib/src ($(echo $vars KARENA_VERBOSE | wc -w))"
bad=0
for i in $(grep -o '^#define KARENA_IOC_[A-Z_]*[[:space:]]*_IO' kmod/uapi/linux/karena.h |
	awk '{print $2}'); do
	grep -q "^\.B $i\$" kmod/karena.4 || { echo "# karena(4) lacks $i"; bad=1; }
done
for f in $(sed -n 's|^What:[[:space:]]*/sys/.*/||p' kmod/ABI/*); do
	grep -q "^\.[BI]R* $f\b" kmod/karena.4 || { echo "# karena(4) lacks $f"; bad=1; }
done
ok $bad "karena(4) documents every ioctl of the UAPI header and every file of kmod/ABI"

# ---- 5. DKMS ----
make -s dkms DESTDIR="$tmp/dkms-root" > "$tmp/dkms.log" 2>&1
src=$tmp/dkms-root/usr/src/karena-$version
[ -f "$src/dkms.conf" ] && grep -q "^PACKAGE_VERSION=\"$version\"\$" "$src/dkms.conf" &&
	[ -f "$src/kmod/uapi/linux/karena.h" ] && ! ls "$src"/kmod/*.mod.c > /dev/null 2>&1
ok $? "make dkms: /usr/src/karena-$version with dkms.conf of version $version, sources only"
dk=(--dkmstree "$tmp/dkms-tree" --sourcetree "$tmp/dkms-root/usr/src" -m karena -v "$version")
mkdir -p "$tmp/dkms-tree"
dkms add "${dk[@]}" > "$tmp/dkms-add.log" 2>&1
ok $? "dkms add karena/$version (scratch dkms tree)"
for k in "$kver61" "$kver612"; do
	dkms build "${dk[@]}" -k "$k" -j 1 > "$tmp/dkms-$k.log" 2>&1
	st=$?
	built=$(ls "$tmp/dkms-tree/karena/$version/$k"/*/module/karena.ko* 2>/dev/null | head -n1)
	[ $st = 0 ] && [ -n "$built" ] && [ "$(modinfo -F version "$built")" = "$version" ] &&
		[ "$(modinfo -F vermagic "$built" | cut -d' ' -f1)" = "$k" ]
	ok $? "dkms build -k $k: modinfo says version $version, vermagic $k"
	[ $st = 0 ] || show "$tmp/dkms-$k.log"
	[ "$k" = "$kver61" ] && ko61=$built
done
if [ -n "${ko61:-}" ]; then
	tools/vm/run --kernel 6.1 --module "$ko61" -- \
		sh -c 'cat /sys/module/karena/version && tools/karenactl/karenactl limits' \
		> "$tmp/vm.log" 2>&1
	st=$?
	[ $st = 0 ] && grep -q "^$version" "$tmp/vm.log" && grep -q '^max_arenas ' "$tmp/vm.log"
	ok $? "the module dkms built for 6.1 loads in the VM (version $version) and answers karenactl"
	[ $st = 0 ] || show "$tmp/vm.log"
else
	ok 1 "the module dkms built for 6.1 loads in the VM (no module was built)"
fi

tap_end
