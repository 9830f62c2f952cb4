"""Shared by the Python package tests: the mode under test, the skip on unsupported versions,
and subprocess runs of helper scripts.

CTest runs every test module twice per interpreter (tests/python/CMakeLists.txt):
MPROFILE_TEST_MODE=preload with LD_PRELOAD=libmprofile.so and MPROFILE_RATE=0 (hooks installed at
start-up, idle until start()), and MPROFILE_TEST_MODE=dlopen with MPROFILE_LIBRARY (the package
loads the library and start() installs the hooks). MPROFILE_SEED is fixed, so sampled runs are
reproducible.
"""

import json
import os
import subprocess
import sys
import unittest

import mprofile

HERE = os.path.dirname(os.path.abspath(__file__))
MODE = os.environ.get("MPROFILE_TEST_MODE", "preload" if mprofile._lib.preloaded else "dlopen")


def _supported():
    """None when the library samples in this interpreter, else the reason it does not."""
    if mprofile.is_tracing():
        return None
    try:
        mprofile.start(max_frames=1, sample_rate=1)
    except mprofile.NotSupportedError as exc:
        return "not supported yet: %s" % exc
    mprofile.stop()
    return None


UNSUPPORTED = _supported()


def skip_if_unsupported():
    """For setUpModule: skips the whole module on a Python the library does not support."""
    if UNSUPPORTED is not None:
        raise unittest.SkipTest(UNSUPPORTED)


def line_of(marker, path):
    """The line number of the first line of path that contains marker (a '# LINE:' comment)."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if marker in line:
                return number
    raise LookupError("%s not in %s" % (marker, path))


def run_json(args, env=None, drop=()):
    """Runs this interpreter on args with the test's environment plus env, minus the names in
    drop; returns the JSON object the script printed last on stdout."""
    full = dict(os.environ)
    for name in drop:
        full.pop(name, None)
    full.update(env or {})
    proc = subprocess.run(
        [sys.executable] + list(args),
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(
            "%s exited with %d\nstdout:\n%s\nstderr:\n%s"
            % (args, proc.returncode, proc.stdout, proc.stderr)
        )
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]), proc.stderr
