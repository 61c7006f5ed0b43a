# SPDX-License-Identifier: GPL-2.0
#
# karena: top-level build. The module is built by Kbuild (see Kbuild and
# kmod/Kbuild); the library, tools and selftests by their own Makefiles.
#
#   make                 module (against KDIR), library, tools, selftests
#   make check           the one test command (installs what is missing)
#   make demo            boot the VM and show what karena does
#   make bench           benchmarks against glibc, jemalloc, tcmalloc, mimalloc
#   make python          the karena Python package, in place in build/python
#                        (PYTHON=python3.X for another interpreter)
#   make module-for KVER=<release>   module for one kernel into build/<release>/
#   make install         install-module + install-lib + install-tools
#   make install-module  karena.ko into /lib/modules/KVER/updates/, then depmod
#   make install-lib     libkarena, its headers, pkg-config file and karena(3)
#   make install-tools   karenactl, karenactl(8), karena(4), the udev rule
#   make uninstall       removes what install installed (uninstall-* likewise)
#   make dkms            the module's source tree and dkms.conf into
#                        /usr/src/karena-VERSION, for dkms add/build/install
#   make deb             the Debian packages (dpkg-buildpackage), into ..
#   make style           checkpatch --strict on kmod/
#
# install-lib and install-tools need neither kernel headers nor
# linux-source. DESTDIR, PREFIX (/usr/local), LIBDIR, KDIR and KVER are
# honoured; docs/install.md says what goes where.

VERSION := $(shell cat $(CURDIR)/VERSION)
# The kernel to build for: the running kernel's build tree if it has one,
# else the newest Debian 6.1 headers (tools/install-deps.sh installs them).
ifeq ($(origin KDIR),undefined)
KDIR := $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(lastword $(shell ls -1dv /usr/src/linux-headers-6.1.*-amd64 2>/dev/null)))
endif
# The release KDIR builds for (its UTS_RELEASE): where the module installs.
ifeq ($(origin KVER),undefined)
KVER := $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null)
endif
MODDIR ?= /lib/modules/$(KVER)/updates
PREFIX ?= /usr/local
DESTDIR ?=
UDEVRULESDIR ?= /lib/udev/rules.d
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/karena
# LIBDIR is left to lib/Makefile (multiarch under /usr on Debian).
export VERSION PREFIX DESTDIR
# Debian's python3 first: the package is built for the interpreter it runs in.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3) python3)

.PHONY: all modules lib tools selftests check demo bench soak install \
	uninstall clean style module-for deps install-module install-lib \
	install-tools uninstall-module uninstall-lib uninstall-tools dkms \
	uninstall-dkms deb python

all: modules lib tools selftests

deps:
	@bash tools/install-deps.sh

modules:
	@test -d "$(KDIR)" || { echo "KDIR=$(KDIR) is not a kernel build tree (install linux-headers or run tools/install-deps.sh)"; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) KARENA_VERSION=$(VERSION) modules

# The module for one installed kernel, built out of tree in build/<KVER>/.
module-for:
	@bash tools/build-module.sh $(KVER)

lib:
	$(MAKE) -C lib

tools: lib
	$(MAKE) -C tools

selftests:
	$(MAKE) -C selftests/karena

# PYTHONPATH=build/python python3 -c 'import karena' (python/README.md)
python: lib
	cd python && $(PYTHON) setup.py -q build --build-base $(CURDIR)/build/python-build \
		--build-lib $(CURDIR)/build/python

check:
	@bash tools/check.sh

demo:
	@bash tools/demo.sh

bench:
	@bash tools/bench/run.sh

soak:
	@KARENA_SOAK=1 bash tools/check.sh

install: install-module install-lib install-tools
uninstall: uninstall-module uninstall-lib uninstall-tools

# By hand, not by Kbuild's modules_install, which would put the module in
# a subfolder named for kmod/ and skip depmod without a System.map.
install-module: modules
	@v=$$(PATH=$$PATH:/sbin:/usr/sbin modinfo -F vermagic kmod/karena.ko | cut -d' ' -f1); \
	[ "$$v" = "$(KVER)" ] || { echo "kmod/karena.ko is built for '$$v', not KVER=$(KVER): make clean, then make install-module KDIR=..."; exit 1; }
	install -D -m 0644 kmod/karena.ko $(DESTDIR)$(MODDIR)/karena.ko
	$(call karena_depmod)

uninstall-module:
	@test -n "$(KVER)" || { echo "no KVER: give the kernel release, e.g. KVER=$$(uname -r)"; exit 1; }
	rm -f $(DESTDIR)$(MODDIR)/karena.ko
	$(call karena_depmod)

# depmod for KVER; with DESTDIR the files are not in place yet: say how.
ifeq ($(DESTDIR),)
karena_depmod = PATH=$$PATH:/sbin:/usr/sbin depmod -a $(KVER)
else
karena_depmod = @echo "DESTDIR is set, depmod not run; once the files are in /, run: depmod -a $(KVER)"
endif

install-lib:
	$(MAKE) -C lib install

uninstall-lib:
	$(MAKE) -C lib uninstall

install-tools:
	$(MAKE) -C tools/karenactl install
	install -D -m 0644 kmod/karena.4 $(DESTDIR)$(MANDIR)/man4/karena.4
	install -D -m 0644 packaging/60-karena.rules $(DESTDIR)$(UDEVRULESDIR)/60-karena.rules
	install -D -m 0644 -t $(DESTDIR)$(DOCDIR)/examples packaging/examples/*

uninstall-tools:
	$(MAKE) -C tools/karenactl uninstall
	rm -f $(DESTDIR)$(MANDIR)/man4/karena.4 $(DESTDIR)$(UDEVRULESDIR)/60-karena.rules
	rm -rf $(DESTDIR)$(DOCDIR)

# DKMS: the module's sources (Kbuild, VERSION, kmod/) and a dkms.conf made
# from packaging/dkms.conf.in with VERSION, the one version source.
DKMS_SRC ?= /usr/src/karena-$(VERSION)
dkms:
	install -d $(DESTDIR)$(DKMS_SRC)/kmod/uapi/linux
	install -m 0644 Kbuild VERSION $(DESTDIR)$(DKMS_SRC)/
	install -m 0644 kmod/Kbuild $(filter-out %.mod.c,$(wildcard kmod/*.c)) kmod/*.h \
		$(DESTDIR)$(DKMS_SRC)/kmod/
	install -m 0644 kmod/uapi/linux/karena.h $(DESTDIR)$(DKMS_SRC)/kmod/uapi/linux/
	sed 's|@VERSION@|$(VERSION)|g' packaging/dkms.conf.in > $(DESTDIR)$(DKMS_SRC)/dkms.conf
	@echo "installed $(DESTDIR)$(DKMS_SRC); to build and install it for every kernel: dkms install karena/$(VERSION)"

uninstall-dkms:
	-PATH=$$PATH:/sbin:/usr/sbin dkms remove karena/$(VERSION) --all
	rm -rf $(DESTDIR)$(DKMS_SRC)

# The .debs (debian/), unsigned, into the parent directory.
deb:
	dpkg-buildpackage -us -uc -b

style:
	@bash tools/style.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C lib clean
	$(MAKE) -C tools clean
	$(MAKE) -C selftests/karena clean
	rm -rf build
