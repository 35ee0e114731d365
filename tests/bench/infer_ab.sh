#!/usr/bin/env bash
# infer_ab.sh BEFORE [AFTER] - the in-process inference figures of `make bench`
# (bench_engine infer: float32 split over idle cores and on one core) for two
# commits, in turn, ROUNDS times (default 3), with PyTorch's one-thread
# figures (tests/bench/torch_peer.py infer) measured in each round, then the
# median of each figure over the rounds. The load average is printed with
# each round: on a shared machine compare medians, not single runs.
#
#   tests/bench/infer_ab.sh b00253f            # AFTER defaults to HEAD
#   ROUNDS=5 tests/bench/infer_ab.sh b00253f main
set -u
cd "$(dirname "$0")/../.." || exit 1
declare -A rev=([before]=${1:?usage: infer_ab.sh BEFORE [AFTER]} [after]=${2:-HEAD})
ROUNDS=${ROUNDS:-3}
PY=/usr/bin/python3
keys=(b1_median_us b1_median_us_1core b16_samples_per_sec b128_samples_per_sec
    b128_samples_per_sec_1core)
tmp=$(mktemp -d /tmp/mlpd-infer-ab.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for side in before after; do
    r=${rev[$side]}
    mkdir -p "$tmp/$side"
    git archive "$r" | tar -x -C "$tmp/$side" || { echo "cannot export $r"; exit 1; }
    make -s -C "$tmp/$side" -j2 build/tests/bench/bench_engine >"$tmp/$side.log" 2>&1 ||
        { echo "cannot build $r (log $tmp/$side.log)"; tail -n 5 "$tmp/$side.log"; exit 1; }
    echo "$side: $(git rev-parse --short "$r") $(git log -1 --format=%s "$r" | cut -c1-70)"
done
val() { grep -E "^$1=" "$2" | tail -n 1 | cut -d= -f2; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
for ((round = 1; round <= ROUNDS; round++)); do
    echo "== round $round ($(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg))"
    for side in before after; do
        "$tmp/$side/build/tests/bench/bench_engine" infer >"$tmp/$side.$round.txt"
        line="$side:"
        for k in "${keys[@]}"; do line+=" $k=$(val "mlpd_$k" "$tmp/$side.$round.txt")"; done
        echo "  $line"
    done
    if $PY -c 'import torch' 2>/dev/null; then
        PEER_TORCH_THREADS=1 $PY tests/bench/torch_peer.py infer >"$tmp/torch.$round.txt" 2>&1
        echo "  pytorch 1 thread: b1_median_us=$(val torch_b1_median_us "$tmp/torch.$round.txt")" \
            "b16_samples_per_sec=$(val torch_b16_samples_per_sec "$tmp/torch.$round.txt")" \
            "b128_samples_per_sec=$(val torch_b128_samples_per_sec "$tmp/torch.$round.txt")"
    fi
done
echo "-- medians over $ROUNDS rounds"
t128=$(for ((r = 1; r <= ROUNDS; r++)); do val torch_b128_samples_per_sec "$tmp/torch.$r.txt" 2>/dev/null; done | median)
for side in before after; do
    line="$side:"
    for k in "${keys[@]}"; do
        line+=" $k=$(for ((r = 1; r <= ROUNDS; r++)); do val "mlpd_$k" "$tmp/$side.$r.txt"; done | median)"
    done
    echo "  $line"
    b128=$(for ((r = 1; r <= ROUNDS; r++)); do val mlpd_b128_samples_per_sec "$tmp/$side.$r.txt"; done | median)
    [ -n "$t128" ] && awk -v a="$b128" -v b="$t128" \
        'BEGIN { printf "    b128 / pytorch one thread (%s rows/s): %.2fx\n", b, a / b }'
done
