# shellcheck shell=bash disable=SC2034  # variables are for the sections that source this
# lib.sh - helpers shared by tests/bench/section_*.sh (sourced, never run).
#
# A section calls bench_init first: it makes a private temp dir ($BENCH_TMP)
# and installs a trap so that every process started through these helpers
# (daemons, peers, wrk) is stopped and the temp dir removed when the section
# exits, however it exits. Helpers print figures as key=value lines; nothing
# here asserts: a failed step leaves its figure empty and the table says n/a.
#
# Environment: BUILD (build dir), MLPD_BIN (the daemon binary), BENCH_DATA
# (training data set folder, default data/fashion-mnist), BENCH_WRK_SECONDS
# (length of one wrk run, default 5).

BUILD=${BUILD:-build}
MLPD=${MLPD_BIN:-$BUILD/mlpd}
BENCH_DATA=${BENCH_DATA:-data/fashion-mnist}
DATA_ROOT=$(dirname "$BENCH_DATA")          # the daemon's --data-dir
TRAIN_SET=$(basename "$BENCH_DATA")         # its data set name
WRK_SECONDS=${BENCH_WRK_SECONDS:-5}
PY=/usr/bin/python3
OUT=$BUILD/bench; mkdir -p "$OUT"
BENCH_PIDS=()

bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do stop_pid "$pid"; done
    BENCH_PIDS=()
    [ -n "${BENCH_TMP:-}" ] && rm -rf "$BENCH_TMP"
}

# bench_init NAME: temp dir and the cleanup trap (INT/TERM exit, which runs EXIT).
bench_init() {
    BENCH_TMP=$(mktemp -d "/tmp/mlpd-bench-$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

# stop_pid PID: SIGTERM, up to 5 s of grace, then SIGKILL; reaps it if it is our child.
stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# untrack PID: after stopping a process by hand.
untrack() {
    local keep=() p
    for p in "${BENCH_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    BENCH_PIDS=("${keep[@]}")
}

# free_port: a port nobody listens on now (for servers that cannot take port 0).
free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port_file FILE PID [SECONDS]: print the port once FILE holds it; fails
# when PID dies first or time runs out.
wait_port_file() {
    local f=$1 pid=$2 limit=${3:-15} i
    for ((i = 0; i < limit * 20; i++)); do
        if [ -s "$f" ]; then cat "$f"; return 0; fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# wait_http URL [SECONDS]: until URL answers 2xx.
wait_http() {
    local url=$1 limit=${2:-15} i
    for ((i = 0; i < limit * 20; i++)); do
        curl -sf -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.05
    done
    return 1
}

# daemon_start [extra serve flags...]: mlpd serve on a free loopback port with
# a fresh database; sets DAEMON_PID, DAEMON_URL, DAEMON_LOG. Returns 1 (and
# shows the log's tail) when it does not get ready.
daemon_start() {
    local dir
    dir=$(mktemp -d "$BENCH_TMP/daemon.XXXXXX")
    DAEMON_LOG=$dir/daemon.log
    "$MLPD" serve --bind 127.0.0.1 --port 0 --port-file "$dir/port" --db "$dir/mlpd.db" \
        --data-dir "$DATA_ROOT" --quiet "$@" >"$DAEMON_LOG" 2>&1 &
    DAEMON_PID=$!
    BENCH_PIDS+=("$DAEMON_PID")
    local port
    if port=$(wait_port_file "$dir/port" "$DAEMON_PID") &&
        DAEMON_URL=http://127.0.0.1:$port && wait_http "$DAEMON_URL/readyz"; then
        return 0
    fi
    echo "  mlpd serve did not get ready; its log:" >&2
    tail -n 5 "$DAEMON_LOG" >&2
    return 1
}

# daemon_stop: stop the daemon started last.
daemon_stop() {
    [ -n "${DAEMON_PID:-}" ] || return 0
    stop_pid "$DAEMON_PID"; untrack "$DAEMON_PID"; DAEMON_PID=
}

# ---- JSON over HTTP -------------------------------------------------------------
# json_field FIELD: read one JSON document on stdin, print its top-level FIELD
# ("" for null or absent).
json_field() {
    $PY -c 'import json, sys
try:
    v = json.load(sys.stdin).get(sys.argv[1])
except Exception:
    v = None
print("" if v is None else v)' "$1"
}

# api_post PATH JSON: POST to the daemon, print the body.
api_post() {
    curl -s --max-time 10 -H 'Content-Type: application/json' -d "$2" "$DAEMON_URL$1"
}

# job_wait ID [SECONDS]: poll GET /jobs/ID until it ends; print its final JSON.
job_wait() {
    local id=$1 limit=${2:-600} t0=$SECONDS body status
    while :; do
        body=$(curl -s --max-time 5 "$DAEMON_URL/jobs/$id")
        status=$(json_field status <<<"$body")
        case $status in succeeded|failed|cancelled) break ;; esac
        [ $((SECONDS - t0)) -ge "$limit" ] && break
        sleep 0.5
    done
    printf '%s\n' "$body"
}

# train_job JSON: queue a run and wait for it; print the final job JSON.
train_job() {
    local id
    id=$(api_post /train "$1" | json_field id)
    [ -n "$id" ] || return 1
    job_wait "$id"
}

# best_epoch_sps ID SAMPLES: SAMPLES / the shortest epoch of the job (its
# per-epoch "seconds" metrics), the same "best epoch" figure as `mlpd train`.
best_epoch_sps() {
    curl -s --max-time 5 "$DAEMON_URL/jobs/$1/metrics" | $PY -c 'import json, sys
try:
    s = [m["value"] for m in json.load(sys.stdin)["metrics"] if m["key"] == "seconds" and m["value"]]
    print("%.1f" % (float(sys.argv[1]) / min(s)))
except Exception:
    print("")' "$2"
}

# quick_model: train the reference shape (784-512-256-10) for one epoch on
# mnist-digits, the small set, so /predict has a model; print its id.
quick_model() {
    train_job '{"dataset":"mnist-digits","epochs":1}' | json_field model_id
}

# ---- load generation ----------------------------------------------------------------
# predict_body FILE: one 784-value /predict body, the first mnist-digits test
# image scaled to [0, 1] (random values when the file is not there).
predict_body() {
    $PY - "$DATA_ROOT/mnist-digits/t10k-images-idx3-ubyte" >"$1" <<'PYEOF'
import json, random, sys
try:
    with open(sys.argv[1], "rb") as f:
        f.seek(16)
        x = [round(b / 255.0, 4) for b in f.read(784)]
    assert len(x) == 784
except Exception:
    random.seed(1)
    x = [round(random.random(), 4) for _ in range(784)]
print(json.dumps({"input": x}, separators=(",", ":")))
PYEOF
}

# The wrk script: POST the body file named by $BENCH_BODY on every request;
# at the end print the figures as key=value lines (latency is in microseconds).
write_wrk_script() {
    cat >"$1" <<'LUAEOF'
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format("requests=%d\nrps=%.1f\np50_ms=%.3f\np99_ms=%.3f\nerrors=%d\n",
        summary.requests, summary.requests / secs, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
LUAEOF
}

# wrk_post URL CONNS SECONDS OUTFILE: keep-alive POSTs of $BENCH_BODY at CONNS
# connections (1 wrk thread for one connection, else 2); figures to OUTFILE.
wrk_post() {
    local url=$1 conns=$2 secs=$3 out=$4 threads=2
    command -v wrk >/dev/null || { echo "wrk is not installed (Debian package wrk)" >"$out"; return 1; }
    [ "$conns" -lt 2 ] && threads=1
    [ -f "$BENCH_TMP/post.lua" ] || write_wrk_script "$BENCH_TMP/post.lua"
    BENCH_BODY=$BENCH_BODY wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 5s \
        -s "$BENCH_TMP/post.lua" "$url" >"$out" 2>&1
}

# val KEY FILE: the value of KEY=... in FILE ("" when absent).
val() { grep -E "^$1=" "$2" 2>/dev/null | tail -n 1 | cut -d= -f2; }
# ratio A B: A/B as "1.23x", or n/a.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2fx", a / b }'
}
# rss_kib PID KEY: VmRSS / VmHWM (KiB) from /proc/PID/status.
rss_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "n/a"; else printf "%.1f", k / 1024 }'; }
