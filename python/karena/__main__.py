# SPDX-License-Identifier: LGPL-2.1-or-later
"""python3 -m karena: this interpreter's karena arenas and, when the
module is loaded, its system-wide counters."""
import karena


def main():
    st = karena.stats()
    print("karena in this interpreter%s:" % (
        "" if st["enabled"] else
        " (not enabled: set KARENA_PYTHON=1 or call karena.enable())"))
    for k, v in st.items():
        print("  %-22s %s" % (k, v))
    sysc = karena.system_counters()
    if sysc is None:
        print("karena module: not loaded (%s absent)" % karena.SYSFS)
        return
    print("karena module (%s):" % karena.SYSFS)
    for k, v in sysc.items():
        print("  %-22s %s" % (k, v))


main()
