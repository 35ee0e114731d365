#!/usr/bin/env bash
# Build the libFuzzer targets tests/fuzz/fuzz_*.c with clang (ASan + UBSan)
# and, with RUN_SECONDS set, run each for that long on its seed corpus.
#
#   bash tests/fuzz/build.sh                     # build into $BUILD/fuzz/
#   RUN_SECONDS=60 bash tests/fuzz/build.sh      # build, then fuzz each for 60 s
#
# The seed corpus lives in tests/fuzz/corpus/<target>/ (kept small, in git);
# what a run discovers goes to $BUILD/fuzz/corpus/<target>/, crashes to
# $BUILD/fuzz/crashes/. Exits non-zero when a target fails to build or finds a bug.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
OUT=$BUILD/fuzz
CC_FUZZ=${CC_FUZZ:-clang}
mkdir -p "$OUT"
FLAGS=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Iapi -Iengine)
read -r -a PKG_CFLAGS <<<"$(pkg-config --cflags openblas libcjson)"
read -r -a PKG_LIBS <<<"$(pkg-config --libs openblas libcjson zlib)"
# The decoders and what they use; not api/encode.c, which needs the server.
SRC=(api/problem.c api/json_util.c api/train_request.c api/predict_request.c engine/*.c)
status=0
for target in tests/fuzz/fuzz_*.c; do
    name=$(basename "$target" .c)
    "$CC_FUZZ" "${FLAGS[@]}" "${PKG_CFLAGS[@]}" "$target" "${SRC[@]}" "${PKG_LIBS[@]}" \
        -lpthread -lm -o "$OUT/$name"
    echo "built $OUT/$name"
    if [ -n "${RUN_SECONDS:-}" ]; then
        mkdir -p "$OUT/corpus/$name" "$OUT/crashes"
        if ! "$OUT/$name" -max_total_time="$RUN_SECONDS" -rss_limit_mb=1024 \
            -artifact_prefix="$OUT/crashes/$name-" "$OUT/corpus/$name" \
            "tests/fuzz/corpus/$name" 2>"$OUT/$name.log"; then
            echo "$name FAILED (see $OUT/$name.log)"; status=1
        else
            tail -n 2 "$OUT/$name.log"
        fi
    fi
done
exit $status
