#!/usr/bin/env bash
# Bench section 4: attributions over HTTP. POST /explain with the /predict
# body of one digit, so the defaults apply: integrated gradients, 50 steps,
# zero baseline, the predicted class's probability; one keep-alive connection
# (wrk) for BENCH_WRK_SECONDS against `mlpd serve` with a 784-512-256-10 model
# trained through it. The in-process figure is section 2's (bench_engine explain).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
bench_init explain

echo "-- 4. attributions over HTTP: POST /explain, integrated gradients 50 steps, one digit, 1 connection, wrk ${WRK_SECONDS}s"
daemon_start || { echo "  mlpd serve failed to start: section skipped"; exit 0; }
model_id=$(quick_model)
[ -n "$model_id" ] || { echo "  training the model through mlpd failed: section skipped"; exit 0; }
rm -f "$OUT"/http_explain.txt
export BENCH_BODY=$BENCH_TMP/body.json
predict_body "$BENCH_BODY"
if ! curl -sf -H 'Content-Type: application/json' --data-binary "@$BENCH_BODY" \
    "$DAEMON_URL/explain" | grep -q '"convergence_delta"'; then
    echo "  POST /explain did not answer with integrated gradients: section skipped"; exit 0
fi
wrk_post "$DAEMON_URL/explain" 1 1 "$BENCH_TMP/warm.txt"
wrk_post "$DAEMON_URL/explain" 1 "$WRK_SECONDS" "$OUT/http_explain.txt"
daemon_stop
f=$OUT/http_explain.txt
printf '%-34s %10s req/s   p50 %8s ms   p99 %8s ms   errors %s\n' "mlpd POST /explain (IG, 50 steps)" \
    "$(val rps "$f")" "$(val p50_ms "$f")" "$(val p99_ms "$f")" "$(val errors "$f")"
