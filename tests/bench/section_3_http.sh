#!/usr/bin/env bash
# Bench section 3: prediction over HTTP. POST one 784-value vector with
# keep-alive connections (wrk) at 1, 16 and 64 connections, BENCH_WRK_SECONDS
# each, against, one at a time:
#   mlpd        `mlpd serve`, a 784-512-256-10 model trained through it
#   naive-C     tests/bench/bench_peer_naive.c: libmicrohttpd + cJSON + sgemv
#   python      Flask + gunicorn (2 gthread workers) + PyTorch, OPENBLAS_NUM_THREADS=1
#   ceiling     tests/bench/bench_peer_fixed.c: libmicrohttpd answering a fixed reply
# All serve the same model file and get the same body. Prints req/s, p50,
# p99 and errors per run, then the ratios of mlpd's req/s to each peer's.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
bench_init http

CONNS=(1 16 64)
SERVERS=(mlpd naive-C python ceiling)
echo "-- 3. prediction over HTTP: POST /predict, one 784-value vector, keep-alive, wrk ${WRK_SECONDS}s per run"

# wait_post URL [SECONDS]: until a POST of $BENCH_BODY answers 200; prints the label.
wait_post() {
    local url=$1 limit=${2:-30} i
    for ((i = 0; i < limit * 10; i++)); do
        if curl -sf --max-time 2 -H 'Content-Type: application/json' --data-binary "@$BENCH_BODY" \
            -o "$BENCH_TMP/reply.json" "$url"; then
            $PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["predictions"][0]["label"])' \
                "$BENCH_TMP/reply.json" 2>/dev/null
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# start_server NAME: start it (mlpd is already up); sets SERVER_URL, SERVER_PID.
start_server() {
    local port
    case $1 in
    mlpd)
        SERVER_URL=$DAEMON_URL/predict; SERVER_PID=$DAEMON_PID; return 0 ;;
    naive-C)
        "$BUILD/tests/bench/bench_peer_naive" "$MODEL_FILE" "$BENCH_TMP/naive.port" 2 \
            >"$BENCH_TMP/naive.log" 2>&1 &
        SERVER_PID=$!; BENCH_PIDS+=("$SERVER_PID")
        port=$(wait_port_file "$BENCH_TMP/naive.port" "$SERVER_PID") || return 1 ;;
    ceiling)
        "$BUILD/tests/bench/bench_peer_fixed" "$BENCH_TMP/fixed.port" 2 >"$BENCH_TMP/fixed.log" 2>&1 &
        SERVER_PID=$!; BENCH_PIDS+=("$SERVER_PID")
        port=$(wait_port_file "$BENCH_TMP/fixed.port" "$SERVER_PID") || return 1 ;;
    python)
        $PY -c 'import flask, gunicorn, torch' 2>/dev/null || {
            echo "  python peer skipped: needs python3-flask, gunicorn, python3-torch" >&2; return 1; }
        port=$(free_port)
        PEER_MODEL=$MODEL_FILE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
            $PY -m gunicorn --workers 2 --worker-class gthread --threads 1 \
            --bind "127.0.0.1:$port" --chdir tests/bench --log-level warning --graceful-timeout 3 \
            peer_flask:app >"$BENCH_TMP/flask.log" 2>&1 &
        SERVER_PID=$!; BENCH_PIDS+=("$SERVER_PID") ;;
    esac
    SERVER_URL=http://127.0.0.1:$port/predict
}

stop_server() {
    [ "$1" = mlpd ] && return 0
    stop_pid "$SERVER_PID"; untrack "$SERVER_PID"
}

daemon_start || { echo "  mlpd serve failed to start: section skipped"; exit 0; }
model_id=$(quick_model)
MODEL_FILE=$BENCH_TMP/model.mlp
if [ -z "$model_id" ] || ! curl -sf -o "$MODEL_FILE" "$DAEMON_URL/models/$model_id/file"; then
    echo "  training the model through mlpd failed: section skipped"; exit 0
fi
rm -f "$OUT"/http_*.txt  # a server that fails this time must not show old figures
export BENCH_BODY=$BENCH_TMP/body.json
predict_body "$BENCH_BODY"

for srv in "${SERVERS[@]}"; do
    if ! start_server "$srv" || ! label=$(wait_post "$SERVER_URL" 60); then
        echo "  $srv did not start or did not answer 200; its runs are n/a"
        stop_server "$srv"; continue
    fi
    echo "  $srv answers label $label; warming up"
    wrk_post "$SERVER_URL" 16 1 "$BENCH_TMP/warm.txt"
    for c in "${CONNS[@]}"; do
        wrk_post "$SERVER_URL" "$c" "$WRK_SECONDS" "$OUT/http_${srv}_c$c.txt"
    done
    stop_server "$srv"
done
daemon_stop

printf '%-10s %6s %12s %10s %10s %8s\n' server conns "req/s" "p50 ms" "p99 ms" errors
for srv in "${SERVERS[@]}"; do
    for c in "${CONNS[@]}"; do
        f=$OUT/http_${srv}_c$c.txt
        printf '%-10s %6s %12s %10s %10s %8s\n' "$srv" "$c" "$(val rps "$f")" "$(val p50_ms "$f")" \
            "$(val p99_ms "$f")" "$(val errors "$f")"
    done
done
printf '%-10s %6s %14s %14s %14s\n' ratios conns "mlpd/python" "mlpd/naive-C" "mlpd/ceiling"
for c in "${CONNS[@]}"; do
    m=$(val rps "$OUT/http_mlpd_c$c.txt")
    printf '%-10s %6s %14s %14s %14s\n' "req/s" "$c" "$(ratio "$m" "$(val rps "$OUT/http_python_c$c.txt")")" \
        "$(ratio "$m" "$(val rps "$OUT/http_naive-C_c$c.txt")")" \
        "$(ratio "$m" "$(val rps "$OUT/http_ceiling_c$c.txt")")"
done
