#!/bin/sh
# Runs the end-to-end suite on Debian unstable's python3.13, python3.14 and python3.15, with
# the libmprofile.so built on this machine.
#
#   MP_LIB=/path/to/libmprofile.so tests/matrix/run-sid.sh [3.13|3.14|3.15 ...] [-- test_exact.py ...]
#
# With no version, all three run. The chroot (MP_SID_CHROOT, default /var/cache/mprofile/sid)
# is created or completed first by make-sid-chroot.sh. Each run gets a private mount namespace
# (unshare -m) in which /proc, /dev, the source tree and the library's directory are
# bind-mounted into the chroot, so concurrent runs never see each other's mounts and nothing
# stays mounted afterwards. The chroot's own python3.X drives the tests and is the interpreter
# under test, so its tracemalloc is what the snapshots are compared with and loaded by.
# Prints one summary line per version; exits 1 if any failed, 77 (skipped) when it cannot run
# here at all (not root, or no debootstrap and no chroot).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
DIR=${MP_SID_CHROOT:-/var/cache/mprofile/sid}
LIB=${MP_LIB:-}
HELLO=${MP_HELLO:-}

versions=""
while [ $# -gt 0 ]; do
    case $1 in
    --) shift; break ;;
    *) versions="$versions $1"; shift ;;
    esac
done
[ -n "$versions" ] || versions="3.13 3.14 3.15"
tests="$*"

if [ -z "$LIB" ] || [ ! -f "$LIB" ]; then
    echo "run-sid: set MP_LIB to the built libmprofile.so" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "run-sid: needs root (chroot, mounts); skipped" >&2
    exit 77
fi
if [ ! -e "$DIR/.mprofile-ready" ] && ! command -v debootstrap >/dev/null 2>&1; then
    echo "run-sid: no chroot at $DIR and no debootstrap to make one; skipped" >&2
    exit 77
fi
"$HERE/make-sid-chroot.sh" "$DIR" 2>&1 | grep -v '^make-sid-chroot: python' >&2 || true
if [ ! -e "$DIR/.mprofile-ready" ]; then
    echo "run-sid: could not make the chroot at $DIR" >&2
    exit 1
fi

LIBDIR=$(cd "$(dirname "$LIB")" && pwd)
LIBNAME=$(basename "$LIB")
if [ -z "$tests" ]; then
    tests=$(cd "$SRC/tests/e2e" && ls test_*.py)
fi

status=0
for v in $versions; do
    if [ ! -x "$DIR/usr/bin/python$v" ]; then
        echo "matrix python$v (sid): MISSING (not installed in $DIR)"
        status=1
        continue
    fi
    log=$(mktemp "/tmp/mprofile-matrix-$v.XXXXXX")
    # The inner script runs in its own mount namespace; its mounts vanish with it.
    # Mount points are per run (the pid), so runs in parallel do not share them.
    tag="run.$$.$v"
    set +e
    unshare -m sh -eu -s "$DIR" "$SRC" "$LIBDIR" "$tag" "$v" "$LIBNAME" "${HELLO:-}" $tests \
        >"$log" 2>&1 <<'INNER'
DIR=$1 SRC=$2 LIBDIR=$3 TAG=$4 V=$5 LIBNAME=$6 HELLO=$7
shift 7
mount --make-rprivate /
M=/mprofile/$TAG
mkdir -p "$DIR$M/src" "$DIR$M/lib" "$DIR$M/bin"
mount --bind /proc "$DIR/proc"
mount --rbind /dev "$DIR/dev"
mount --bind "$SRC" "$DIR$M/src"
mount --bind "$LIBDIR" "$DIR$M/lib"
hello=""
if [ -n "$HELLO" ] && [ -x "$HELLO" ]; then
    cp "$HELLO" "$DIR$M/bin/mp_hello"
    hello="$M/bin/mp_hello"
fi
failed=0
for t in "$@"; do
    echo "=== $t"
    if chroot "$DIR" /usr/bin/env -i PATH=/usr/bin:/bin LC_ALL=C.UTF-8 HOME=/root TMPDIR=/tmp \
        MP_LIB="$M/lib/$LIBNAME" MP_PYTHON="/usr/bin/python$V" MP_HELLO="$hello" \
        "/usr/bin/python$V" "$M/src/tests/e2e/$t"; then
        echo "=== $t: passed"
    else
        rc=$?
        if [ $rc = 77 ]; then echo "=== $t: skipped"; else echo "=== $t: FAILED ($rc)"; failed=1; fi
    fi
done
umount "$DIR$M/lib" "$DIR$M/src"
rm -rf "$DIR$M"
exit $failed
INNER
    rc=$?
    set -e
    passed=$(grep -c '^=== .*: passed$' "$log" || true)
    failed=$(grep '^=== .*: FAILED' "$log" | sed 's/^=== \(.*\): FAILED.*/\1/' | tr '\n' ' ' || true)
    skipped=$(grep -c '^=== .*: skipped$' "$log" || true)
    pyver=$(chroot "$DIR" "/usr/bin/python$v" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo "?")
    if [ $rc = 0 ]; then
        echo "matrix python$v (sid $pyver): OK, $passed test files passed, $skipped skipped"
        rm -f "$log"
    else
        echo "matrix python$v (sid $pyver): FAILED ($failed), $passed passed; log follows"
        cat "$log"
        rm -f "$log"
        status=1
    fi
done
exit $status
