#!/bin/sh
# Creates, or brings up to date, a minimal Debian chroot for the tests that run inside one (the
# Python version matrix on unstable, the .deb on a bare bookworm).
#
#   tests/chroot/make-chroot.sh SUITE DIR [PACKAGE...] [--fetch PACKAGE...]
#
# SUITE is a Debian suite (sid, bookworm), DIR the chroot, which lives outside the source tree
# so that CI can cache it between runs. The PACKAGEs are installed; those after --fetch are
# only downloaded into the chroot's apt cache, for a test that installs them later (as the
# dependencies of a package it installs) without the network. The script is idempotent: a
# complete chroot (marked by DIR/.mprofile-ready once debootstrap has finished) is only
# completed with what is missing; a missing or half-made one is rebuilt from scratch. Needs
# root, debootstrap and network access to the default Debian mirror (once everything is there,
# no network).
set -eu

if [ $# -lt 2 ]; then
    echo "usage: make-chroot.sh SUITE DIR [PACKAGE...] [--fetch PACKAGE...]" >&2
    exit 2
fi
SUITE=$1 DIR=$2
shift 2
MARK="$DIR/.mprofile-ready"

log() { echo "make-chroot: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    log "must run as root (debootstrap and chroot)"
    exit 1
fi

# Runs in parallel from several tests: one at a time builds, the others wait and reuse.
if [ -z "${MP_CHROOT_LOCKED:-}" ]; then
    mkdir -p "$(dirname "$DIR")"
    MP_CHROOT_LOCKED=1 exec flock "$DIR.lock" "$0" "$SUITE" "$DIR" "$@"
fi

install="" fetch="" list=install
for p in "$@"; do
    case $p in
    --fetch) list=fetch ;;
    *) eval "$list=\"\$$list \$p\"" ;;
    esac
done

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
    log "debootstrap --variant=minbase $SUITE $DIR"
    debootstrap --variant=minbase "$SUITE" "$DIR" >"$DIR.debootstrap.log" 2>&1 || {
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

updated=""
update() {
    if [ -z "$updated" ]; then
        cp /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true
        in_chroot apt-get update -q >&2
        updated=1
    fi
}

missing=""
for p in $install; do
    # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
    if ! in_chroot dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    log "installing$missing"
    update
    # shellcheck disable=SC2086
    in_chroot apt-get install -y -q $missing >&2
    in_chroot apt-get clean
fi

# A package counts as fetched when its .deb is in the cache (its dependencies came with it;
# apt-get keeps what it downloads until apt-get clean, which ran above, before this).
unfetched=""
for p in $fetch; do
    if ! ls "$DIR/var/cache/apt/archives/${p}_"*.deb >/dev/null 2>&1; then
        unfetched="$unfetched $p"
    fi
done
if [ -n "$unfetched" ]; then
    log "downloading$unfetched"
    update
    # shellcheck disable=SC2086
    in_chroot apt-get install -y -q --download-only $unfetched >&2
fi
log "ready: $DIR"
