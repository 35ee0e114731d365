#!/usr/bin/env bash
# split_ab.sh - POST /predict with the float32 split on (default) and off
# (MLPD_PREDICT_CORES=1), alternating, ROUNDS rounds: does splitting a lone
# request help at 1 connection and cost nothing under load (64 connections)?
# Usage: bash tests/bench/split_ab.sh   (BUILD, MLPD_BIN, BENCH_WRK_SECONDS=5, ROUNDS=2)
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
bench_init split_ab
ROUNDS=${ROUNDS:-2}
predict_body "$BENCH_TMP/body.json"; BENCH_BODY=$BENCH_TMP/body.json
echo "-- float32 split A/B: POST /predict one 784-value vector, wrk ${WRK_SECONDS}s per run, $(uptime | sed 's/.*load/load/')"
for ((round = 1; round <= ROUNDS; round++)); do
    for cores in default 1; do
        if [ "$cores" = 1 ]; then export MLPD_PREDICT_CORES=1; else unset MLPD_PREDICT_CORES; fi
        daemon_start || exit 1
        model=$(quick_model)
        [ -n "$model" ] || { echo "no model"; exit 1; }
        curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary "@$BENCH_BODY" "$DAEMON_URL/predict"
        for c in 1 64; do
            wrk_post "$DAEMON_URL/predict" "$c" "$WRK_SECONDS" "$BENCH_TMP/wrk.txt"
            # helpers lent so far (ran / late), from /metrics
            split=$(curl -s "$DAEMON_URL/metrics" | awk -F'[ "]' '/^mlpd_predict_split_helpers_total/ { printf "%s%s", sep, $NF; sep = "/" }')
            printf 'round %d  cores=%-7s c=%-3d %10s req/s  p50 %6s ms  p99 %6s ms  errors %s  helpers ran/late %s\n' \
                "$round" "$cores" "$c" "$(val rps "$BENCH_TMP/wrk.txt")" "$(val p50_ms "$BENCH_TMP/wrk.txt")" \
                "$(val p99_ms "$BENCH_TMP/wrk.txt")" "$(val errors "$BENCH_TMP/wrk.txt")" "$split"
        done
        daemon_stop
    done
done
unset MLPD_PREDICT_CORES
