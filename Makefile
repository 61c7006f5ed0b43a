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
#   make install DESTDIR=... PREFIX=... LIBDIR=...
#   make style           checkpatch --strict on kmod/

VERSION := $(shell cat $(CURDIR)/VERSION)
# Default: the newest Debian 6.1 headers (tools/install-deps.sh installs them);
# this machine's running kernel has no headers and cannot load modules.
KDIR ?= $(lastword $(sort $(wildcard /usr/src/linux-headers-6.1.*-amd64)))
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
DESTDIR ?=
export VERSION PREFIX LIBDIR DESTDIR
# Debian's python3 first: the package is built for the interpreter it runs in.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3) python3)

.PHONY: all modules lib tools selftests check demo bench soak install \
	uninstall clean style module-for deps python

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

install: all
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) modules_install
	$(MAKE) -C lib install
	$(MAKE) -C tools install
	install -D -m 0644 packaging/60-karena.rules $(DESTDIR)/lib/udev/rules.d/60-karena.rules

uninstall:
	$(MAKE) -C lib uninstall
	$(MAKE) -C tools uninstall
	rm -f $(DESTDIR)/lib/udev/rules.d/60-karena.rules

style:
	@bash tools/style.sh

clean:
	-$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C lib clean
	$(MAKE) -C tools clean
	$(MAKE) -C selftests/karena clean
	rm -rf build
