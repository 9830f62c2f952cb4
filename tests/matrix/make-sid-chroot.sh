#!/bin/sh
# Creates, or brings up to date, a Debian unstable chroot with the CPython versions the
# matrix tests run on (python3.13, python3.14 and python3.15, with their headers).
#
#   tests/matrix/make-sid-chroot.sh [DIR]
#
# DIR defaults to $MP_SID_CHROOT, then /var/cache/mprofile/sid. It lives outside the source
# tree so that CI can cache it between runs. The script is idempotent: a complete chroot
# (marked by DIR/.mprofile-ready once debootstrap has finished) is only completed with the
# packages that are missing; a missing or half-made one is rebuilt from scratch. Needs root, debootstrap and network access to the
# default Debian mirror.
set -eu

DIR=${1:-${MP_SID_CHROOT:-/var/cache/mprofile/sid}}
PACKAGES=${MP_SID_PACKAGES:-"python3.13-dev python3.14-dev python3.15-dev gcc libc6-dev python3-numpy \
    libunwind8"}
MARK="$DIR/.mprofile-ready"

log() { echo "make-sid-chroot: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    log "must run as root (debootstrap and chroot)"
    exit 1
fi

# Runs in parallel from several matrix tests: one at a time builds, the others wait and reuse.
if [ -z "${MP_SID_LOCKED:-}" ]; then
    mkdir -p "$(dirname "$DIR")"
    MP_SID_LOCKED=1 exec flock "$DIR.lock" "$0" "$DIR"
fi

in_chroot() {
    chroot "$DIR" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
}

if [ ! -e "$MARK" ]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
        log "debootstrap is missing: apt-get install debootstrap"
        exit 1
    fi
    if [ -e "$DIR" ]; then
        log "removing incomplete chroot $DIR"
        # A half-made chroot may still have /proc or /dev mounted from an interrupted run.
        for m in proc sys dev; do
            if mountpoint -q "$DIR/$m" 2>/dev/null; then umount -l "$DIR/$m"; fi
        done
        rm -rf --one-file-system "$DIR"
    fi
    mkdir -p "$(dirname "$DIR")"
    log "debootstrap --variant=minbase sid $DIR"
    debootstrap --variant=minbase sid "$DIR" >"$DIR.debootstrap.log" 2>&1 || {
        tail -20 "$DIR.debootstrap.log" >&2
        exit 1
    }
    # The sid Release file may be past its Valid-Until when the mirror lags; it is still the
    # archive we asked for.
    echo 'Acquire::Check-Valid-Until "false";' >"$DIR/etc/apt/apt.conf.d/99mprofile"
    echo 'APT::Install-Recommends "false";' >>"$DIR/etc/apt/apt.conf.d/99mprofile"
    cp /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true
    # The base system is complete: from here on, a failed run only retries the packages.
    touch "$MARK"
fi

missing=""
for p in $PACKAGES; do
    if ! in_chroot dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    log "installing$missing"
    cp /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true
    in_chroot apt-get update -q >&2
    # shellcheck disable=SC2086
    in_chroot apt-get install -y -q $missing >&2
    in_chroot apt-get clean
fi

for v in 3.13 3.14 3.15; do
    if [ -x "$DIR/usr/bin/python$v" ]; then
        log "python$v: $(in_chroot "/usr/bin/python$v" -c 'import sys; print(sys.version.split()[0])')"
    fi
done
log "ready: $DIR"
