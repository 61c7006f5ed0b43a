# SPDX-License-Identifier: LGPL-2.1-or-later
"""Build of the karena Python package: the C extension karena._karena,
linked with libkarena.a from ../lib (built here with make if missing or
stale), the package, and karena.pth, which goes to site-packages itself.

    make python                                   in place, build/python/
    pip install --no-build-isolation ./python     offline, from the tree
"""
import os
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
LIB = os.path.join(TOP, "lib")


def version():
    with open(os.path.join(TOP, "VERSION")) as f:
        return f.read().strip()


class BuildExtWithLib(build_ext):
    """Build libkarena.a first (lib/Makefile: -fPIC, hidden internals)."""

    def run(self):
        subprocess.check_call(["make", "-s", "-C", LIB, "libkarena.a"])
        super().run()


class BuildPyWithPth(build_py):
    """karena.pth goes to the root of site-packages, beside the package:
    only there does site.py read it at start-up."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(HERE, "karena.pth"),
                       os.path.join(self.build_lib, "karena.pth"))

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [
            os.path.join(self.build_lib, "karena.pth")]


setup(
    name="karena",
    version=version(),
    description="CPython's pymalloc arenas from the karena kernel module",
    license="LGPL-2.1-or-later",
    packages=["karena"],
    ext_modules=[Extension(
        "karena._karena",
        sources=["karena/_karena.c"],
        include_dirs=[os.path.join(LIB, "include")],
        extra_compile_args=["-std=gnu11", "-Wall", "-Wextra"],
        # libkarena.a is linked in, its symbols kept out of the
        # extension's exports, so that the extension always calls its own
        # copy, even beside a preloaded libkarena-malloc.so.
        extra_objects=[os.path.join(LIB, "libkarena.a")],
        extra_link_args=["-Wl,--exclude-libs,ALL", "-pthread"],
        depends=[os.path.join(LIB, "libkarena.a"),
                 os.path.join(LIB, "include", "karena.h")],
    )],
    cmdclass={"build_ext": BuildExtWithLib, "build_py": BuildPyWithPth},
    zip_safe=False,
)
