#!/bin/sh
# Runs the whole test suite: unit tests (also under ASan+UBSan and under TSan), end-to-end tests
# on every interpreter found, the report tool's tests and fuzz replay, the Python version matrix,
# the three ways to install (cmake --install, pip into a venv, the .deb in a Debian 12 chroot)
# and the stress tests.
# Run from the repository as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
if [ -x tests/matrix/make-sid-chroot.sh ]; then
    tests/matrix/make-sid-chroot.sh
fi
# The bare Debian 12 chroot that package.deb installs the .deb into (a few minutes the first
# time, then cached). Without it that test is skipped, saying why: the rest still runs.
tests/package/make-bookworm-chroot.sh ||
    echo "test.sh: no Debian 12 chroot could be made; package.deb will be skipped" >&2
jobs=$(nproc)

cmake --preset ci >/dev/null
cmake --build --preset ci -j"$jobs"
# Every test of the build (no label filter): unit, e2e, python, report, matrix, stress.
ctest --preset ci -j"$jobs"

# Sanitizers (ASan + UBSan): the unit tests of every module, and the library's end-to-end tests
# with the sanitizer runtimes preloaded before it (docs/design.md).
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ctest --preset asan -j"$jobs"
ctest --preset asan-e2e -j"$jobs"

# ThreadSanitizer: the unit tests, and the end-to-end tests with threads or fork on Debian's
# python3.11 with the TSan runtime preloaded before the library (tests/e2e/CMakeLists.txt). The
# end-to-end tests' reports are written to files, printed here when a test failed.
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j"$jobs"
ctest --preset tsan -j"$jobs"
rm -f build/tsan/tsan-reports/report.*
if ! ctest --preset tsan-e2e -j"$jobs"; then
    cat build/tsan/tsan-reports/report.* 2>/dev/null
    exit 1
fi

# A short libFuzzer run (clang) over mprofile-report's reader, from the regression corpus.
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$jobs"
ctest --preset fuzz
