# SPDX-License-Identifier: LGPL-2.1-or-later
"""karena: CPython's pymalloc arenas from libkarena's backend.

pymalloc serves objects of up to 512 bytes from arenas (1 MiB on CPython
3.10 and later) and only ever gives whole arenas back. enable() makes every
new arena a grant of the karena kernel module (/dev/karena) when it is
loaded, else an anonymous mmap, so that an administrator sees and limits
the arenas of a Python process like those of any karena user:

    import karena
    karena.enable()
    print(karena.stats())

A denial (a karena limit) raises MemoryError; the program goes on. The
installed karena.pth calls enable() at start-up when KARENA_PYTHON=1.
"""
import sys

# A free-threaded CPython (abiflags "t") uses mimalloc and has no arenas.
if "t" in getattr(sys, "abiflags", ""):
    raise ImportError(
        "karena: this CPython is free-threaded (Py_GIL_DISABLED): it "
        "allocates objects with mimalloc and has no pymalloc arenas to take "
        "from karena; use a default (GIL) build of CPython")

from karena._karena import disable, enable, is_enabled, stats  # noqa: E402

__all__ = ["enable", "disable", "is_enabled", "stats", "system_counters"]

SYSFS = "/sys/class/misc/karena"


def system_counters(path=SYSFS):
    """The module's system-wide counters (one sysfs file each) as a dict of
    ints, or None when the module is not loaded."""
    import os

    try:
        names = sorted(os.listdir(path))
    except OSError:
        return None
    out = {}
    for name in names:
        try:
            with open(os.path.join(path, name)) as f:
                out[name] = int(f.read().strip())
        except (OSError, ValueError):
            continue  # not a counter: dev, uevent, power/, subsystem
    return out
