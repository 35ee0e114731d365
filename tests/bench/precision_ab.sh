#!/usr/bin/env bash
# precision_ab.sh - before/after figures of the prediction kernels: batch-1
# median and batch-128 rows/s per precision (bench_engine infer), for an
# older commit and for this tree, in alternating runs, as medians.
#
#   tests/bench/precision_ab.sh [BASE_COMMIT] [RUNS]
#
# BASE_COMMIT (default b0a96a9, main before the AMX kernels) is exported with
# git archive into a temporary folder and its bench_engine built there (make
# -j2); this tree's is built in build/. Each run is pinned to one core
# (taskset, when there is one) with one OpenBLAS thread; the load average is
# printed before and after, because the batch-128 figures move with it.
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE=${1:-b0a96a9}
RUNS=${2:-5}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

git archive "$BASE" | tar -x -C "$TMP"
make -C "$TMP" -j2 build/tests/bench/bench_engine >/dev/null
make -j2 build/tests/bench/bench_engine >/dev/null
PIN=()
if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then PIN=(taskset -c 1); fi

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$RUNS"); do
    OPENBLAS_NUM_THREADS=1 "${PIN[@]}" "$TMP/build/tests/bench/bench_engine" infer >"$TMP/before_$i.txt"
    OPENBLAS_NUM_THREADS=1 "${PIN[@]}" build/tests/bench/bench_engine infer >"$TMP/after_$i.txt"
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

# median KEY SIDE: the median over the runs of SIDE (before|after), or n/a.
median() {
    grep -h "^$1=" "$TMP"/"$2"_*.txt 2>/dev/null | cut -d= -f2 | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
kernel() { grep -h "^mlpd_kernel_$1=" "$TMP/$2_1.txt" 2>/dev/null | cut -d= -f2 || true; }

printf '%-8s %-26s %-26s %22s %24s\n' precision "kernel before" "kernel after" "b1 median us" "b128 rows/s"
for p in float32 bf16 int8; do
    printf '%-8s %-26s %-26s %10s -> %-9s %11s -> %-10s\n' "$p" "$(kernel "$p" before)" \
        "$(kernel "$p" after)" "$(median "mlpd_b1_median_us_$p" before)" \
        "$(median "mlpd_b1_median_us_$p" after)" "$(median "mlpd_b128_samples_per_sec_$p" before)" \
        "$(median "mlpd_b128_samples_per_sec_$p" after)"
done
echo "medians of $RUNS alternating runs; base $BASE ($(git log -1 --format=%h "$BASE")), this tree $(git log -1 --format=%h)"
