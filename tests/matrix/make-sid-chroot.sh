#!/bin/sh
# Creates, or brings up to date, a Debian unstable chroot with the CPython versions the
# matrix tests run on (python3.13, python3.14 and python3.15, with their headers).
#
#   tests/matrix/make-sid-chroot.sh [DIR]
#
# DIR defaults to $MP_SID_CHROOT, then /var/cache/mprofile/sid. It lives outside the source
# tree so that CI can cache it between runs; tests/chroot/make-chroot.sh makes it (idempotent,
# one run at a time). Needs root, debootstrap and network access to the default Debian mirror.
set -eu

DIR=${1:-${MP_SID_CHROOT:-/var/cache/mprofile/sid}}
PACKAGES=${MP_SID_PACKAGES:-"python3.13-dev python3.14-dev python3.15-dev gcc libc6-dev python3-numpy \
    libunwind8"}

# shellcheck disable=SC2086
"$(dirname "$0")/../chroot/make-chroot.sh" sid "$DIR" $PACKAGES

for v in 3.13 3.14 3.15; do
    if [ -x "$DIR/usr/bin/python$v" ]; then
        echo "make-sid-chroot: python$v: $(chroot "$DIR" "/usr/bin/python$v" -c \
            'import sys; print(sys.version.split()[0])')" >&2
    fi
done
