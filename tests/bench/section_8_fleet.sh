#!/usr/bin/env bash
# Bench section 8: the fleet's costs (docs/scale-out.md).
#   - job submit (POST /train) and status poll (GET /jobs/{id}) operations per
#     second on SQLite and on PostgreSQL (a throwaway loopback cluster,
#     tools/pg-tmp.sh), wrk at 4 connections for BENCH_FLEET_SECONDS each, on
#     an api-role daemon (so nothing trains meanwhile);
#   - a job's samples/s on each store (reference shape, mnist-digits, best epoch);
#   - POST /predict through HAProxy against the same daemon directly (16
#     connections): the cost of the hop;
#   - time from SIGKILL of the daemon training a job to the job claimed by
#     another daemon (lease 3 s: at most the lease plus a third of it).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
bench_init fleet
SECS=${BENCH_FLEET_SECONDS:-5}
PGDIR=$(mktemp -u /tmp/mlpd-pg-bench.XXXXXX)
HAPROXY_PID=
fleet_cleanup() {
    [ -n "$HAPROXY_PID" ] && stop_pid "$HAPROXY_PID"
    bench_cleanup
    [ -d "$PGDIR" ] && bash tools/pg-tmp.sh stop "$PGDIR"
}
trap fleet_cleanup EXIT

echo "-- 8. fleet: SQLite vs PostgreSQL, HAProxy hop, SIGKILL to a new claim"
if ! URI=$(bash tools/pg-tmp.sh start "$PGDIR" 2>"$BENCH_TMP/pg.log" | tail -n 1) || [ -z "$URI" ]; then
    echo "  PostgreSQL cluster did not start (make deps):"; tail -n 3 "$BENCH_TMP/pg.log"; exit 0
fi
db_for() { # store name, database number -> --db value
    if [ "$1" = sqlite ]; then echo "$BENCH_TMP/$2.db"; return; fi
    psql "$URI" -qc "CREATE DATABASE bench$2" >/dev/null && echo "${URI%/*}/bench$2"
}

cat >"$BENCH_TMP/submit.lua" <<'LUAEOF'
wrk.method = "POST"
wrk.body = '{"dataset":"mnist-digits","hidden":[8],"epochs":1}'
wrk.headers["Content-Type"] = "application/json"
function done(summary, latency, requests)
    io.write(string.format("rps=%.1f\nerrors=%d\n", summary.requests / (summary.duration / 1e6),
        summary.errors.status + summary.errors.connect + summary.errors.read))
end
LUAEOF
cat >"$BENCH_TMP/get.lua" <<'LUAEOF'
function done(summary, latency, requests)
    io.write(string.format("rps=%.1f\nerrors=%d\n", summary.requests / (summary.duration / 1e6),
        summary.errors.status + summary.errors.connect + summary.errors.read))
end
LUAEOF

n=0
for st in sqlite postgresql; do
    n=$((n + 1)); db=$(db_for $st $n)
    daemon_start --db "$db" --role api --max-queue 100000 || continue
    wrk -t2 -c4 -d"${SECS}s" -s "$BENCH_TMP/submit.lua" "$DAEMON_URL/train" >"$OUT/fleet_submit_$st.txt" 2>&1
    wrk -t2 -c4 -d"${SECS}s" -s "$BENCH_TMP/get.lua" "$DAEMON_URL/jobs/1" >"$OUT/fleet_poll_$st.txt" 2>&1
    daemon_stop
    n=$((n + 1)); db=$(db_for $st $n)
    daemon_start --db "$db" --blas-threads 1 || continue
    id=$(api_post /train '{"dataset":"mnist-digits","epochs":2,"seed":1}' | json_field id)
    job_wait "$id" >/dev/null
    sps=$(best_epoch_sps "$id" 10000)
    daemon_stop
    printf '  %-10s  submit %8s ops/s (%s errors)   poll %8s ops/s (%s errors)   job %s samples/s\n' \
        "$st" "$(val rps "$OUT/fleet_submit_$st.txt")" "$(val errors "$OUT/fleet_submit_$st.txt")" \
        "$(val rps "$OUT/fleet_poll_$st.txt")" "$(val errors "$OUT/fleet_poll_$st.txt")" "${sps:-n/a}"
done

# ---- the HAProxy hop -------------------------------------------------------------------
n=$((n + 1)); db=$(db_for postgresql $n)
if daemon_start --db "$db" && command -v haproxy >/dev/null; then
    model=$(quick_model)
    lb=$(free_port); dport=${DAEMON_URL##*:}
    cat >"$BENCH_TMP/haproxy.cfg" <<EOF
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$lb
    default_backend mlpd
backend mlpd
    option httpchk GET /readyz
    server n1 127.0.0.1:$dport check inter 1s
EOF
    haproxy -f "$BENCH_TMP/haproxy.cfg" -db >"$BENCH_TMP/haproxy.log" 2>&1 &
    HAPROXY_PID=$!
    wait_http "http://127.0.0.1:$lb/readyz"
    BENCH_BODY=$BENCH_TMP/body.json
    predict_body "$BENCH_BODY"
    wrk_post "$DAEMON_URL/predict" 16 "$SECS" "$OUT/fleet_direct.txt"
    wrk_post "http://127.0.0.1:$lb/predict" 16 "$SECS" "$OUT/fleet_haproxy.txt"
    d=$(val rps "$OUT/fleet_direct.txt"); h=$(val rps "$OUT/fleet_haproxy.txt")
    printf '  POST /predict, 16 connections (model %s): direct %s req/s p50 %s ms, through HAProxy %s req/s p50 %s ms (%s of direct)\n' \
        "$model" "$d" "$(val p50_ms "$OUT/fleet_direct.txt")" "$h" "$(val p50_ms "$OUT/fleet_haproxy.txt")" \
        "$(ratio "$h" "$d")"
    stop_pid "$HAPROXY_PID"; HAPROXY_PID=
    daemon_stop
fi

# ---- SIGKILL of a training daemon to the job's next claim ---------------------------------
n=$((n + 1)); db=$(db_for postgresql $n)
daemon_start --db "$db" --node-name a --lease-seconds 3 --blas-threads 1 || exit 0
A_PID=$DAEMON_PID; A_URL=$DAEMON_URL
daemon_start --db "$db" --node-name b --lease-seconds 3 --blas-threads 1 || exit 0
B_PID=$DAEMON_PID; B_URL=$DAEMON_URL
id=$(api_post /train '{"dataset":"mnist-digits","hidden":[512,256],"epochs":50}' | json_field id)
for _ in $(seq 1 400); do
    w=$(curl -s "$B_URL/jobs/$id" | json_field worker); [ -n "$w" ] && break; sleep 0.05
done
if [ "$w" = a ]; then victim=$A_PID; survivor=$B_URL; else victim=$B_PID; survivor=$A_URL; fi
$PY - "$victim" "$survivor/jobs/$id" "$w" <<'PYEOF'
import json, os, signal, sys, time, urllib.request
pid, url, first = int(sys.argv[1]), sys.argv[2], sys.argv[3]
os.kill(pid, signal.SIGKILL)
t0 = time.monotonic()
while time.monotonic() - t0 < 30:
    try:
        j = json.load(urllib.request.urlopen(url, timeout=2))
        if j.get("worker") not in (None, first):
            print("  SIGKILL of the training daemon to the job claimed by another: %.2f s "
                  "(lease 3 s, renewed every 1 s; attempt %d)" % (time.monotonic() - t0, j["attempts"]))
            break
    except Exception:
        pass
    time.sleep(0.01)
else:
    print("  SIGKILL to a new claim: not within 30 s")
PYEOF
{ wait "$victim"; } 2>/dev/null; untrack "$victim"
curl -s -X POST "$survivor/jobs/$id/cancel" >/dev/null
