#!/bin/sh
# Regenerates the seeds of the elfsym fuzz corpus (elfsym_corpus/seed-*): small real objects
# built from tests/unit/elfsym/target.c without the C library, with the build id that
# fuzz_elfsym.c also asks for. Inputs found by fuzzing are kept next to them as regress-* and
# are never regenerated.
# usage: sh make_elfsym_corpus.sh [CORPUS_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/elfsym_corpus}
src=$here/../unit/elfsym/target.c
id=0x5e1f5e1f00112233445566778899aabbccddeeff
mkdir -p "$out"
# -z noseparate-code: no page of padding between segments, so the files stay small.
flags="-O2 -nostdlib -Wl,-z,noseparate-code -Wl,--build-id=$id -I$here/../unit/elfsym"
cc $flags -fPIC -shared "$src" -o "$out/seed-shared"
objcopy --strip-all "$out/seed-shared" "$out/seed-shared-stripped"
objcopy --only-keep-debug "$out/seed-shared" "$out/seed-shared-debug"
cc $flags -static -no-pie -Wl,-e,elfsym_global "$src" -o "$out/seed-exec"
chmod 644 "$out"/seed-*
