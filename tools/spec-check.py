#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""spec-check: the netlink spec, the UAPI header and the counter table agree.

Every fact about the generic netlink family "karena" is written in
kmod/karena.yaml (the YNL spec), kmod/uapi/linux/karena.h (the enums
userspace compiles against) and kmod/karena_counters.h (the table the
module's sysfs files and GET reply, and karenactl, are made from). This
checks, in TAP:

  1. the kernel's own YNL generator (tools/net/ynl/ynl-gen-c.py of Debian's
     linux-source-6.12, run offline) accepts karena.yaml: it validates it
     against the genetlink-legacy schema and writes the UAPI header the
     spec describes;
  2. every enumerator and numeric constant of that header has the same
     value in kmod/uapi/linux/karena.h (both compiled with cc);
  3. the table: the GET reply of karena.yaml lists the table's counters
     then its limits, in its order; each is a u64 attribute of that name
     whose id is the table's KARENA_A_*; every u64 attribute of the set is
     in the table; SET takes exactly the limits;
  4. kmod/ABI/sysfs-class-misc-karena documents exactly the table's
     counters, and karena(4) and karenactl(8) name every entry.

Needs python3-yaml and python3-jsonschema (tools/install-deps.sh).
Generated files go to build/spec-check/.
"""
import os
import re
import shutil
import subprocess
import sys
import tarfile

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, 'build', 'spec-check')
SPEC = os.path.join(TOP, 'kmod', 'karena.yaml')
UAPI = os.path.join(TOP, 'kmod', 'uapi')
TABLE = os.path.join(TOP, 'kmod', 'karena_counters.h')
ABI = os.path.join(TOP, 'kmod', 'ABI', 'sysfs-class-misc-karena')
MANPAGES = [os.path.join(TOP, 'kmod', 'karena.4'),
            os.path.join(TOP, 'tools', 'karenactl', 'karenactl.8')]
TARBALL = '/usr/src/linux-source-6.12.tar.xz'
YNL_MEMBERS = ('tools/net/ynl/', 'Documentation/netlink/genetlink-legacy.yaml')

# The generator names the multicast group's string after the family; the
# UAPI header, written before it, after the genl family macros.
RENAMED = {'KARENA_MCGRP_MONITOR': 'KARENA_GENL_MCGRP_MONITOR'}

results = []


def tap(ok, name, why=''):
    results.append((ok, name, why))


def ynl_tree():
    """Unpack the YNL generator and schema once; return the tree's root."""
    root = os.path.join(OUT, 'ynl')
    stamp = os.path.join(root, 'stamp')
    if os.path.exists(stamp) and \
       os.path.getmtime(stamp) >= os.path.getmtime(TARBALL):
        return root
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    with tarfile.open(TARBALL) as tar:
        for m in tar:
            rel = m.name.split('/', 1)[-1]
            if m.isfile() and rel.startswith(YNL_MEMBERS):
                m.name = rel
                tar.extract(m, root)
    # ynl-gen-c.py finds the tree's root by its MAINTAINERS file
    open(os.path.join(root, 'MAINTAINERS'), 'w').close()
    open(stamp, 'w').close()
    return root


def ynl_header():
    """The UAPI header ynl-gen-c.py writes for karena.yaml, or None."""
    root = ynl_tree()
    specs = os.path.join(root, 'Documentation', 'netlink', 'specs')
    os.makedirs(specs, exist_ok=True)
    shutil.copy(SPEC, specs)
    gen = os.path.join(OUT, 'ynl-include', 'linux', 'karena.h')
    os.makedirs(os.path.dirname(gen), exist_ok=True)
    r = subprocess.run([sys.executable,
                        os.path.join(root, 'tools/net/ynl/ynl-gen-c.py'),
                        '--mode', 'uapi', '--header',
                        '--spec', os.path.join(specs, 'karena.yaml'),
                        '-o', gen],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=300)
    if r.returncode:
        tap(False, 'the kernel\'s ynl-gen-c.py accepts kmod/karena.yaml',
            (r.stdout + r.stderr).strip())
        return None
    tap(True, 'the kernel\'s ynl-gen-c.py accepts kmod/karena.yaml '
        '(genetlink-legacy schema)')
    return gen


def c_values(include, names, strings):
    """{name: value} of @names (integers) and @strings, as cc sees them."""
    src = os.path.join(OUT, 'values.c')
    exe = os.path.join(OUT, 'values')
    with open(src, 'w') as f:
        f.write('#include <stdio.h>\n#include <linux/karena.h>\n'
                'int main(void)\n{\n')
        for n in names:
            f.write('\tprintf("%%s %%lld\\n", "%s", (long long)(%s));\n'
                    % (n, n))
        for n in strings:
            f.write('\tprintf("%%s %%s\\n", "%s", %s);\n' % (n, n))
        f.write('\treturn 0;\n}\n')
    r = subprocess.run(['cc', '-Wall', '-Werror', '-I', include, '-o', exe,
                        src], capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip()
    out = subprocess.run([exe], capture_output=True, text=True, check=True)
    return dict(line.split(' ', 1) for line in out.stdout.splitlines()), ''


def compare_uapi(gen):
    """Every name of the generated header has its value in ours."""
    text = open(gen).read()
    names, strings = [], []
    for block in re.findall(r'enum[^{]*\{(.*?)\};', text, re.S):
        names += re.findall(r'^\s*(KARENA_\w+)', block, re.M)
    for n, v in re.findall(r'^#define\s+(KARENA_\w+)\s+(.+)$', text, re.M):
        (strings if v.startswith('"') else names).append(n)
    ref, err = c_values(os.path.dirname(os.path.dirname(gen)), names, strings)
    if ref is None:
        tap(False, 'the generated header compiles', err)
        return
    ours_strings = [RENAMED.get(n, n) for n in strings]
    ours, err = c_values(UAPI, names, ours_strings)
    if ours is None:
        tap(False, 'kmod/uapi/linux/karena.h has every name karena.yaml '
            'defines', err)
        return
    bad = ['%s: %s in kmod/uapi, %s in karena.yaml' %
           (n, ours[RENAMED.get(n, n)], ref[n])
           for n in names + strings if ours[RENAMED.get(n, n)] != ref[n]]
    tap(not bad, 'kmod/uapi/linux/karena.h: the %d names karena.yaml defines '
        'have its values' % len(names + strings), '\n'.join(bad))


def table_rows():
    """[(kind, name, nla, unit)] of karena_counters.h, in its order."""
    src = os.path.join(OUT, 'table.c')
    exe = os.path.join(OUT, 'table')
    with open(src, 'w') as f:
        f.write('#include <stdio.h>\n#include <linux/karena.h>\n'
                'int main(void)\n{\n'
                '#define ROW(kind, name, nla, unit) printf("%s %s %d %s\\n",'
                ' kind, #name, KARENA_A_##nla, #unit);\n'
                '#define KARENA_COUNTER(name, nla, unit, field) '
                'ROW("counter", name, nla, unit)\n'
                '#define KARENA_LIMIT(name, nla, unit, field) '
                'ROW("limit", name, nla, unit)\n'
                '#include "' + TABLE + '"\n\treturn 0;\n}\n')
    subprocess.run(['cc', '-Wall', '-Werror', '-I', UAPI, '-o', exe, src],
                   check=True)
    out = subprocess.run([exe], capture_output=True, text=True, check=True)
    return [line.split() for line in out.stdout.splitlines()]


def attr_ids(attr_set):
    """{name: (id, type)} of a YNL attribute set."""
    ids, nxt = {}, 0
    for a in attr_set['attributes']:
        nxt = a.get('value', nxt)
        ids[a['name']] = (nxt, a['type'])
        nxt += 1
    return ids


def check_table(spec, rows):
    sets = {s['name']: s for s in spec['attribute-sets']}
    ids = attr_ids(sets['karena'])
    ops = {o['name']: o for o in spec['operations']['list']}
    names = [r[1].replace('_', '-') for r in rows]
    limits = [r[1].replace('_', '-') for r in rows if r[0] == 'limit']

    reply = ops['get']['do']['reply']['attributes']
    tap(reply == names, 'karena.yaml\'s GET reply lists the table\'s %d '
        'counters and limits, in its order' % len(rows),
        'karena.yaml: %s\ntable:       %s' % (reply, names))

    bad = []
    for kind, name, nla, unit in rows:
        yname = name.replace('_', '-')
        if yname not in ids:
            bad.append('%s: no attribute %s in karena.yaml' % (name, yname))
        elif ids[yname] != (int(nla), 'u64'):
            bad.append('%s: KARENA_A_* is %s in the table, karena.yaml has '
                       '%s' % (name, nla, ids[yname]))
        if unit not in ('ARENAS', 'OTHER'):
            bad.append('%s: unit %s is neither ARENAS nor OTHER' % (name, unit))
    extra = [n for n, (_, t) in ids.items() if t == 'u64' and n not in names]
    bad += ['karena.yaml: u64 attribute %s is not in the table' % n
            for n in extra]
    tap(not bad, 'every table line is the u64 attribute of its name and id, '
        'and every u64 attribute is a table line', '\n'.join(bad))

    req = ops['set']['do']['request']['attributes']
    tap(sorted(req) == sorted(limits), 'SET takes exactly the table\'s limits',
        'karena.yaml: %s\ntable: %s' % (req, limits))

    counters = [r[1] for r in rows if r[0] == 'counter']
    doc = re.findall(r'^What:\s+/sys/class/misc/karena/(\S+)',
                     open(ABI).read(), re.M)
    tap(doc == counters, 'kmod/ABI/sysfs-class-misc-karena documents the '
        'table\'s %d counters, in its order' % len(counters),
        'ABI: %s\ntable: %s' % (doc, counters))

    for page in MANPAGES:
        text = open(page).read().replace('\\_', '_')
        missing = [r[1] for r in rows
                   if not re.search(r'\b%s\b' % r[1], text)]
        tap(not missing, '%s names every counter and limit of the table'
            % os.path.relpath(page, TOP), 'missing: %s' % missing)


def main():
    os.makedirs(OUT, exist_ok=True)
    spec = yaml.safe_load(open(SPEC))
    gen = ynl_header()
    if gen:
        compare_uapi(gen)
    check_table(spec, table_rows())

    print('TAP version 13')
    print('1..%d' % len(results))
    for i, (ok, name, why) in enumerate(results, 1):
        print('%sok %d - %s' % ('' if ok else 'not ', i, name))
        if not ok:
            for line in why.splitlines():
                print('# ' + line)
    return 0 if all(r[0] for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
