"""Interpreters the library does not support: exactly one line on stderr, no snapshot, and the
program's own output and exit status unchanged.

MP_UNSUPPORTED_PYTHONS: ':'-separated interpreters (for example pyenv's 3.10). Exits 77 when
none exists.
"""
import os
import subprocess
import sys
import tempfile

LIB = os.environ.get("MP_LIB", "")
PROGRAM = "import sys\nkeep = [bytearray(1000) for _ in range(1000)]\nprint('done')\nsys.exit(3)\n"


def main():
    pythons = [p for p in os.environ.get("MP_UNSUPPORTED_PYTHONS", "").split(":")
               if p and os.path.exists(p)]
    if not pythons:
        print("unsupported: no interpreter to try; skipped")
        return 77
    failures = 0
    for python in pythons:
        with tempfile.TemporaryDirectory(prefix="mprofile-unsupported-") as d:
            script = os.path.join(d, "prog.py")
            with open(script, "w") as f:
                f.write(PROGRAM)
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("MPROFILE", "PYTHON", "LD_PRELOAD"))}
            env.update(LD_PRELOAD=LIB, MPROFILE_RATE="1", MPROFILE_OUT=d + "/out.%p.snap")
            proc = subprocess.run([python, script], env=env, capture_output=True, timeout=120)
            lines = proc.stderr.decode(errors="replace").splitlines()
            snaps = [n for n in os.listdir(d) if n.endswith(".snap")]
            ok = (proc.returncode == 3 and proc.stdout == b"done\n" and len(lines) == 1
                  and "is not supported" in lines[0] and not snaps)
            print("unsupported: %s: %s (%s)" % (python, "OK" if ok else "FAILED",
                                                 lines[0] if lines else "no warning"))
            if not ok:
                print("  exit %d, stdout %r, stderr %r, snapshots %s"
                      % (proc.returncode, proc.stdout, proc.stderr, snaps))
                failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
