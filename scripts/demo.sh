#!/bin/sh
# Installs what mprofile needs, builds and installs it, profiles the bundled example and prints
# its report. Run from the repository as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMPROFILE_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)"
cmake --install build/release >/dev/null
ldconfig

out=$(mktemp -d)
echo "== profiling examples/leak_and_peak.py at one sample per 64 KiB"
mprofile run -r 64k --seed 1 -o "$out/leak.%p.snap" /usr/bin/python3.11 examples/leak_and_peak.py
snap=$(ls "$out"/leak.*.snap | grep -v '\.peak\.snap$')
peak=$(ls "$out"/leak.*.peak.snap)
echo "== mprofile-report $snap: what the program still held at exit (the leak)"
mprofile-report -n 5 "$snap"
echo "== mprofile-report $peak: what it held at its peak (the report's rows, and the leak so far)"
mprofile-report -n 5 "$peak"
echo "== mprofile-report --format html: one page with flame graphs of both, the memory timeline and the top rows"
mprofile-report --format html -o "$out/report.html" "$snap"
echo "written: $out/report.html (open it in a browser)"
echo "== the same snapshot in Python: tracemalloc.Snapshot.load(...).statistics('lineno')"
/usr/bin/python3.11 -c "
import sys, tracemalloc
for stat in tracemalloc.Snapshot.load(sys.argv[1]).statistics('lineno')[:3]:
    print(stat)" "$snap"

echo "== the mprofile Python module (installed into /usr/local/lib/python3.11/dist-packages, where python3.11 looks)"
cd "$out"
/usr/bin/python3.11 -c "
import mprofile
mprofile.start(sample_rate=128 * 1024)
data = [bytearray(10_000) for _ in range(2_000)]
snapshot = mprofile.take_snapshot()
for stat in snapshot.statistics('lineno')[:3]:
    print(stat)"
