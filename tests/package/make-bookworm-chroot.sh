#!/bin/sh
# Creates, or brings up to date, the bare Debian 12 chroot in which tests/package installs the
# .deb: debootstrap's minbase and nothing else, so that installing the package has to pull in
# its dependencies. python3 (the dependency of the Python module) is downloaded into the apt
# cache beforehand, so that the test installs without the network once the chroot exists.
#
#   tests/package/make-bookworm-chroot.sh [DIR]
#
# DIR defaults to $MP_BOOKWORM_CHROOT, then /var/cache/mprofile/bookworm (outside the source
# tree, cached between runs like the matrix's sid chroot). Needs root, debootstrap and, the
# first time, network access to the default Debian mirror.
set -eu
DIR=${1:-${MP_BOOKWORM_CHROOT:-/var/cache/mprofile/bookworm}}
exec "$(dirname "$0")/../chroot/make-chroot.sh" bookworm "$DIR" --fetch python3
