"""Build the Cython core of fastpath.

Every ``pyx/fastpath/**/X.pyx`` becomes the extension module ``fastpath.**.X`` and is installed
inside the ``fastpath`` package; ``pyx/`` is on the Cython include path so modules ``cimport``
each other by their import names (``from fastpath.wire.checksum cimport csum_partial``).

Developer switches, on the command line of ``build_ext`` or as environment variables (the latter
also reach ``pip install``):

  --debug-build / FASTPATH_DEBUG=1        bounds checking, wraparound, line tracing, -O0 -g
  --cython-annotate / FASTPATH_ANNOTATE=1 write pyx/**/X.html (yellow lines touch the interpreter)
  --only=GLOB / FASTPATH_BUILD_ONLY=GLOB  build only modules whose name matches (fnmatch)
"""
import fnmatch
import glob
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext
from setuptools.command.build_py import build_py as _build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PYX_ROOT = "pyx"


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "yes", "true", "on")


def discover_modules():
    """(module name, source path) for every .pyx under pyx/fastpath."""
    found = []
    for path in sorted(glob.glob(os.path.join(PYX_ROOT, "fastpath", "**", "*.pyx"), recursive=True)):
        rel = os.path.relpath(path, PYX_ROOT)
        found.append((rel[:-len(".pyx")].replace(os.sep, "."), path))
    return found


class build_ext(_build_ext):
    user_options = _build_ext.user_options + [
        ("debug-build", None, "Cython bounds checks, wraparound and line tracing; -O0 -g"),
        ("cython-annotate", None, "write Cython HTML annotation next to each .pyx"),
        ("only=", None, "build only modules matching this fnmatch pattern"),
    ]
    boolean_options = _build_ext.boolean_options + ["debug-build", "cython-annotate"]

    def initialize_options(self):
        super().initialize_options()
        self.debug_build = None
        self.cython_annotate = None
        self.only = None

    def finalize_options(self):
        # Cythonize here, not at import time, so the switches above can shape the directives.
        from Cython.Build import cythonize
        import numpy

        debug = bool(self.debug_build) or _flag("FASTPATH_DEBUG")
        annotate = bool(self.cython_annotate) or _flag("FASTPATH_ANNOTATE")
        only = self.only or os.environ.get("FASTPATH_BUILD_ONLY")

        directives = {
            "language_level": 3,
            "embedsignature": True,
            "boundscheck": debug,
            "wraparound": debug,
            "initializedcheck": debug,
            "cdivision": True,
            "nonecheck": debug,
            "linetrace": debug,
            "profile": False,
        }
        macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
        if debug:
            macros += [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")]
            cflags = ["-O0", "-g3", "-UNDEBUG"]
        else:
            # Portable optimisation only: no -march=native, so a wheel runs on any x86-64 / arm64.
            cflags = ["-O3", "-fno-strict-aliasing"]
        cflags += ["-Wno-unused-function", "-Wno-unreachable-code"]

        exts = []
        for name, src in discover_modules():
            if only and not fnmatch.fnmatch(name, only):
                continue
            exts.append(Extension(
                name, [src],
                include_dirs=[numpy.get_include(), os.path.join(HERE, PYX_ROOT, "fastpath", "includes")],
                define_macros=list(macros),
                extra_compile_args=list(cflags),
            ))
        self.distribution.ext_modules = cythonize(
            exts,
            include_path=[PYX_ROOT],
            compiler_directives=directives,
            annotate=annotate,
            nthreads=0,
            quiet=True,
            # Regenerate when switching between debug and release builds.
            force=debug or _flag("FASTPATH_FORCE"),
        )
        self.extensions = self.distribution.ext_modules
        super().finalize_options()


class build_py(_build_py):
    """Also install the XDP programs' C sources (bpf/*.c, bpf/*.h) as fastpath/xdp/bpf/, where
    fastpath.xdp's loader finds them outside a checkout (bcc compiles them at load time)."""

    def run(self):
        super().run()
        src = os.path.join(HERE, "bpf")
        if os.path.isdir(src):
            dst = os.path.join(self.build_lib, "fastpath", "xdp", "bpf")
            self.mkpath(dst)
            for name in sorted(os.listdir(src)):
                if name.endswith((".c", ".h")):
                    self.copy_file(os.path.join(src, name), os.path.join(dst, name))


# A placeholder keeps setuptools from treating this as a pure-Python distribution (which would
# build a platform-independent wheel); the real list is produced in build_ext.finalize_options.
setup(
    ext_modules=[Extension("fastpath._placeholder", sources=[])],
    cmdclass={"build_ext": build_ext, "build_py": build_py},
)
