#!/usr/bin/env bash
# Bench section 3: prediction over HTTP. POST one 784-value vector with
# keep-alive connections (wrk) at 1, 16 and 64 connections, BENCH_WRK_SECONDS
# each, against, one at a time:
#   mlpd        `mlpd serve`, a 784-512-256-10 model trained through it
#   mlpd-int8   the same daemon and model version served in int8 (PUT .../precision)
#   naive-C     tests/bench/bench_peer_naive.c: libmicrohttpd + cJSON + sgemv, run
#               with 1 and with 2 OpenBLAS threads; the ratio takes the faster
#               of the two at each connection count (no straw man)
#   python      Flask + gunicorn (2 gthread workers) + PyTorch, OPENBLAS_NUM_THREADS=1
#   ceiling     tests/bench/bench_peer_fixed.c: libmicrohttpd answering a fixed reply
# All serve the same model file and get the same body. Prints req/s, p50,
# p99 and errors per run, the server's CPU time per request (user + system
# of its process over the run, n/a for python's several processes: on a
# shared machine a steadier figure than req/s), mlpd's rows per forward pass
# (its /metrics: how well the requests were batched), then the ratios of
# mlpd's req/s to each peer's.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
bench_init http

CONNS=(1 16 64)
SERVERS=(mlpd mlpd-int8 naive-C naive-C-2blas python ceiling)
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
    mlpd-int8)
        # The same daemon and model version, opted into int8 (docs/precision.md):
        # its accuracy check runs on mnist-digits' test split first.
        local ref
        ref=$(curl -s --max-time 5 "$DAEMON_URL/models/$model_id" |
            $PY -c 'import json, sys; m = json.load(sys.stdin); print("%s/versions/%d" % (m["name"], m["version"]))')
        curl -sf --max-time 60 -X PUT -H 'Content-Type: application/json' -d '{"precision":"int8"}' \
            "$DAEMON_URL/models/$ref/precision" >"$BENCH_TMP/precision.json" || return 1
        echo "  int8 for $ref: $(cat "$BENCH_TMP/precision.json")"
        SERVER_URL=$DAEMON_URL/predict; SERVER_PID=$DAEMON_PID; return 0 ;;
    naive-C*)
        # naive-C runs as mlpd does (one OpenBLAS thread: concurrent sgemv calls
        # then never queue in OpenBLAS' pool), naive-C-2blas with two.
        local ob=1; [ "$1" = naive-C-2blas ] && ob=2
        rm -f "$BENCH_TMP/naive.port"
        OPENBLAS_NUM_THREADS=$ob \
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

# listener_counts: "connections requests" per listener thread of the mlpd
# daemon, one listener per line, from its /metrics.
listener_counts() {
    curl -s --max-time 5 "$DAEMON_URL/metrics" | $PY -c 'import re, sys
c, r = {}, {}
for line in sys.stdin:
    m = re.match(r"mlpd_http_listener_(connections|requests)_total\{listener=\"(\d+)\"\} (\d+)", line)
    if m:
        (c if m.group(1) == "connections" else r)[int(m.group(2))] = int(m.group(3))
for i in sorted(c):
    print(c[i], r.get(i, 0))'
}

# spread BEFORE AFTER: connections and share of requests per listener over a run.
spread() {
    $PY - "$1" "$2" <<'PYEOF'
import sys
a = [list(map(int, l.split())) for l in sys.argv[1].splitlines() if l.strip()]
b = [list(map(int, l.split())) for l in sys.argv[2].splitlines() if l.strip()]
if not a or len(a) != len(b):
    print("n/a")
else:
    conns = [y[0] - x[0] for x, y in zip(a, b)]
    reqs = [y[1] - x[1] for x, y in zip(a, b)]
    total = sum(reqs) or 1
    print("connections %s, requests %s" % ("/".join(map(str, conns)),
          "/".join("%.0f%%" % (100.0 * r / total) for r in reqs)))
PYEOF
}

# batch_counts: "rows batches" predicted so far by the mlpd daemon (its /metrics).
batch_counts() {
    curl -s --max-time 5 "$DAEMON_URL/metrics" |
        awk '$1 == "mlpd_predict_rows_total" { r = $2 } $1 == "mlpd_predict_batches_total" { b = $2 }
             END { print r + 0, b + 0 }'
}

# rows_per_batch BEFORE AFTER: rows per forward pass between two batch_counts.
rows_per_batch() {
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ")
        if (y[2] - x[2] > 0) printf "%.1f", (y[1] - x[1]) / (y[2] - x[2]) }'
}

# cpu_ticks PID: user + system clock ticks of the process so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

# cpu_per_request BEFORE AFTER FILE: microseconds of CPU per request of the run in FILE.
cpu_per_request() {
    awk -v a="$1" -v b="$2" -v n="$(val requests "$3")" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { if (a == "" || b == "" || n + 0 == 0) print ""; else printf "%.1f", (b - a) * 1e6 / hz / n }'
}

stop_server() {
    case $1 in mlpd*) return 0 ;; esac
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
        f=$OUT/http_${srv}_c$c.txt
        [ "$srv" = mlpd ] && before=$(listener_counts)
        case $srv in mlpd*) b0=$(batch_counts) ;; esac
        t0=$(cpu_ticks "$SERVER_PID")
        wrk_post "$SERVER_URL" "$c" "$WRK_SECONDS" "$f"
        t1=$(cpu_ticks "$SERVER_PID")
        [ "$srv" = python ] || echo "cpu_us=$(cpu_per_request "$t0" "$t1" "$f")" >>"$f"
        case $srv in mlpd*) echo "rows_per_batch=$(rows_per_batch "$b0" "$(batch_counts)")" >>"$f" ;; esac
        [ "$srv" = mlpd ] && echo "spread=$(spread "$before" "$(listener_counts)")" >>"$f"
    done
    stop_server "$srv"
done
daemon_stop

printf '%-14s %6s %12s %10s %10s %8s %12s %10s\n' server conns "req/s" "p50 ms" "p99 ms" errors \
    "cpu us/req" "rows/batch"
for srv in "${SERVERS[@]}"; do
    for c in "${CONNS[@]}"; do
        f=$OUT/http_${srv}_c$c.txt
        printf '%-14s %6s %12s %10s %10s %8s %12s %10s\n' "$srv" "$c" "$(val rps "$f")" "$(val p50_ms "$f")" \
            "$(val p99_ms "$f")" "$(val errors "$f")" "$(val cpu_us "$f")" "$(val rows_per_batch "$f")"
    done
done
for c in "${CONNS[@]}"; do
    printf '%-14s %6s   over its listener threads: %s\n' mlpd "$c" \
        "$(val spread "$OUT/http_mlpd_c$c.txt")"
done
printf '%-14s %6s %14s %14s %14s\n' ratios conns "mlpd/python" "mlpd/naive-C" "mlpd/ceiling"
for c in "${CONNS[@]}"; do
    m=$(val rps "$OUT/http_mlpd_c$c.txt")
    n1=$(val rps "$OUT/http_naive-C_c$c.txt"); n2=$(val rps "$OUT/http_naive-C-2blas_c$c.txt")
    naive=$(awk -v a="$n1" -v b="$n2" 'BEGIN { if (a == "" && b == "") print ""; else print (a + 0 > b + 0 ? a : b) }')
    printf '%-14s %6s %14s %14s %14s\n' "req/s" "$c" "$(ratio "$m" "$(val rps "$OUT/http_python_c$c.txt")")" \
        "$(ratio "$m" "$naive")" \
        "$(ratio "$m" "$(val rps "$OUT/http_ceiling_c$c.txt")")"
    m8=$(val rps "$OUT/http_mlpd-int8_c$c.txt")
    printf '%-14s %6s %14s %14s %14s\n' "int8 req/s" "$c" "$(ratio "$m8" "$(val rps "$OUT/http_python_c$c.txt")")" \
        "$(ratio "$m8" "$naive")" \
        "$(ratio "$m8" "$(val rps "$OUT/http_ceiling_c$c.txt")")"
done
