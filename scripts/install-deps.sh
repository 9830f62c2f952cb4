#!/bin/sh
# Installs the Debian packages that build and test mprofile (run as root on Debian 12).
set -eu
export DEBIAN_FRONTEND=noninteractive
# zlib1g-dev: mprofile-report gzips --format pprof; golang-go: go tool pprof reads it in the
# report_e2e_pprof test (which skips without go). python3-venv, python3-wheel-whl: pip install
# into a virtualenv offline (docs/install.md, test package.pip); dpkg-dev: dpkg-shlibdeps, which
# cpack runs for the .deb's dependencies. chromium, chromium-driver, python3-selenium: the HTML
# report's test opens the page in headless Chromium (report_e2e_html, which skips without them).
PACKAGES="build-essential cmake libcmocka-dev python3 python3-dev python3.11 python3.11-dev \
    clang libclang-rt-14-dev debootstrap python3-tornado python3-numpy libjemalloc2 \
    libunwind-dev gdb python3-pytest zlib1g-dev golang-go chromium chromium-driver \
    python3-selenium python3-venv python3-wheel-whl dpkg-dev"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
fi
