"""Shared by the installation tests: a program to profile, and running commands with their
output shown when they fail.

Each test installs mprofile the way a user does (cmake --install, pip, the .deb) and profiles
PROGRAM with what it installed.
"""
import os
import subprocess
import sys

# Allocates 20 MB on line ALLOC_LINE, kept until exit, and says which library was preloaded.
PROGRAM = """\
import os
blocks = [bytearray(1000) for _ in range(20000)]
print("preloaded:", os.environ.get("LD_PRELOAD", ""))
"""
ALLOC_LINE = 2

SKIP = 77


def clean_env(**extra):
    """The environment without any MPROFILE_*, PYTHON*, preload or pip setting, plus extra.
    pip reads no configuration file either: only the options a test gives apply."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MPROFILE", "PYTHON", "LD_PRELOAD", "VIRTUAL_ENV", "PIP_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    env.update(extra)
    return env


def run(cmd, **kwargs):
    """Runs cmd, returns its stdout (text); on failure prints what it said and raises."""
    kwargs.setdefault("env", clean_env())
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.stderr.write("$ %s\n%s%s" % (" ".join(cmd), result.stdout, result.stderr))
        raise subprocess.CalledProcessError(result.returncode, cmd)
    return result.stdout


def skip(reason):
    print("skipped: " + reason)
    sys.exit(SKIP)
