#!/usr/bin/env bash
# valgrind-daemon.sh - run `mlpd serve` under valgrind (memcheck) through a
# full train / predict / stream / upload / cancel / shutdown sequence and fail
# on any invalid access or leak.
#
#   BUILD=build tools/valgrind-daemon.sh     (needs $BUILD/mlpd, a non-ASan build)
#
# Valgrind runs with --leak-check=full --errors-for-leak-kinds=definite,indirect
# and --error-exitcode, so an invalid read/write, a use of uninitialised memory
# or a definitely/indirectly lost block makes the daemon's exit status non-zero.
# Suppressions: tests/stress/valgrind.supp (each entry says why it is there).
# Each step prints "ok - ..." or "FAIL - ..."; the last line is
# "N passed, N failed" and the exit status is non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MLPD=${MLPD_BIN:-$BUILD/mlpd}
SUPP=tests/stress/valgrind.supp
passed=0
failed=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { # name, command...: the command's success is the check
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

if [ ! -x "$MLPD" ]; then
    bad "daemon binary $MLPD exists (build it: make BUILD=$BUILD all)"
    finish
fi
if ! command -v valgrind >/dev/null || ! command -v curl >/dev/null; then
    bad "valgrind and curl are installed (make deps)"
    finish
fi
if nm -u "$MLPD" 2>/dev/null | grep -q __asan_init; then
    bad "$MLPD is an ASan build: valgrind needs a plain one (make BUILD=build all)"
    finish
fi

TMP=$(mktemp -d /tmp/mlpd-valgrind-XXXXXX)
VPID=
cleanup() {
    [ -n "$VPID" ] && kill -KILL "$VPID" 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/data"
ln -s "$PWD/data/mnist-digits" "$TMP/data/mnist-digits"

# OpenBLAS keeps its thread pool for the life of the process; 2 threads make
# sure the pool is started and exercised under valgrind too.
OPENBLAS_NUM_THREADS=2 valgrind --tool=memcheck --error-exitcode=97 --leak-check=full \
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    --suppressions="$SUPP" --num-callers=30 --log-file="$TMP/valgrind.log" \
    "$MLPD" serve --bind 127.0.0.1 --port 0 --port-file "$TMP/port" --db "$TMP/mlpd.db" \
    --data-dir "$TMP/data" --migrations migrations --web-dir web --api-dir api --quiet \
    >"$TMP/daemon.log" 2>&1 &
VPID=$!

# Valgrind makes start-up slow: wait up to 120 s for the port and /readyz.
PORT=
for _ in $(seq 1 1200); do
    if [ -s "$TMP/port" ]; then
        PORT=$(cat "$TMP/port")
        curl -fsS -o /dev/null "http://127.0.0.1:$PORT/readyz" 2>/dev/null && break
    fi
    kill -0 "$VPID" 2>/dev/null || break
    sleep 0.1
done
URL="http://127.0.0.1:${PORT:-0}"
if ! curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null; then
    bad "daemon under valgrind became ready"
    cat "$TMP/daemon.log" "$TMP/valgrind.log" 2>/dev/null | tail -n 40
    finish
fi
ok "daemon under valgrind became ready on port $PORT"

# HTTP helpers: status code only, or the body.
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 120 "$@"; }
body() { curl -s --max-time 120 "$@"; }
json_field() { # field name, flat json on stdin -> the first value of that field
    grep -o "\"$1\":[^,}]*" | head -n 1 | sed 's/^[^:]*://; s/"//g'
}
wait_status() { # job id, wanted status list (regex), timeout s -> 0 when reached
    local id=$1 want=$2 limit=$3 st=
    for _ in $(seq 1 $((limit * 5))); do
        st=$(body "$URL/jobs/$id" | json_field status)
        [[ $st =~ ^($want)$ ]] && return 0
        sleep 0.2
    done
    echo "  job $id is '$st', wanted $want" >&2
    return 1
}

check "GET /healthz answers 200" test "$(code "$URL/healthz")" = 200

# A run to the end: train, evaluate on the test split, store the model.
JOB=$(body -H 'Content-Type: application/json' -d '{"hidden":[16],"epochs":2,"validation_split":0.1}' \
    "$URL/train" | json_field id)
check "POST /train accepted a run (id ${JOB:-none})" test -n "$JOB"
check "the run succeeded" wait_status "${JOB:-0}" succeeded 300
check "its event stream replays to the end" \
    bash -c "curl -s --max-time 120 '$URL/jobs/${JOB:-0}/events' | grep -q '^event: end'"
check "GET /jobs/{id}/metrics answers 200" test "$(code "$URL/jobs/${JOB:-0}/metrics")" = 200

# Predictions from the model just made (one row of 784 pixels, then a batch).
ROW=$(printf '0.5,%.0s' $(seq 1 784))
ROW=${ROW%,}
check "POST /predict (one row) answers 200" \
    test "$(code -H 'Content-Type: application/json' -d "{\"input\":[$ROW]}" "$URL/predict")" = 200
check "POST /predict (batch of 3) answers 200" \
    test "$(code -H 'Content-Type: application/json' -d "{\"inputs\":[[$ROW],[$ROW],[$ROW]]}" "$URL/predict")" = 200
check "POST /predict with a wrong width answers 422" \
    test "$(code -H 'Content-Type: application/json' -d '{"input":[1,2,3]}' "$URL/predict")" = 422

# Models: download, upload again, delete.
curl -s -o "$TMP/model.bin" "$URL/models/1/file"
check "POST /models (upload) answers 201" \
    test "$(code -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/model.bin" "$URL/models?name=copy")" = 201
check "DELETE /models/2 answers 204" test "$(code -X DELETE "$URL/models/2")" = 204

# A data set upload (CSV, 3 classes) and a refused one.
{
    echo "label,a,b,c"
    for i in $(seq 0 299); do
        case $((i % 3)) in 0) echo "0,0.9,0.1,0.1" ;; 1) echo "1,0.1,0.9,0.1" ;; *) echo "2,0.1,0.1,0.9" ;; esac
    done
} >"$TMP/up.csv"
check "POST /datasets (csv) answers 201" \
    test "$(code -H 'Content-Type: text/csv' --data-binary @"$TMP/up.csv" "$URL/datasets?name=vg")" = 201
check "POST /datasets with a broken csv answers 422" \
    test "$(code -H 'Content-Type: text/csv' --data-binary 'label,a
x,y' "$URL/datasets?name=vg2")" = 422

# Cancel: a long run, cancelled once it trains.
LONG=$(body -H 'Content-Type: application/json' -d '{"hidden":[32],"epochs":500}' "$URL/train" | json_field id)
check "a long run is training" wait_status "${LONG:-0}" running 120
check "POST /jobs/{id}/cancel answers 202" test "$(code -X POST "$URL/jobs/${LONG:-0}/cancel")" = 202
check "the run ends cancelled" wait_status "${LONG:-0}" cancelled 120
check "GET /jobs/999999 answers 404" test "$(code "$URL/jobs/999999")" = 404
check "GET /metrics answers 200" test "$(code "$URL/metrics")" = 200

# Shutdown with a run training and one queued: SIGTERM drains and exits.
LAST=$(body -H 'Content-Type: application/json' -d '{"hidden":[32],"epochs":500}' "$URL/train" | json_field id)
QUEUED=$(body -H 'Content-Type: application/json' -d '{"hidden":[8],"epochs":1}' "$URL/train" | json_field id)
check "a run trains while another waits (ids ${LAST:-none}, ${QUEUED:-none})" \
    wait_status "${LAST:-0}" running 120
kill -TERM "$VPID"
wait "$VPID"
STATUS=$?
VPID=
check "SIGTERM: the daemon exited with status 0 under valgrind (got $STATUS)" test "$STATUS" = 0

# What valgrind saw.
LOG="$TMP/valgrind.log"
summary=$(grep -E 'ERROR SUMMARY' "$LOG" | tail -n 1)
echo "  valgrind: ${summary#==*== }"
grep -E 'in use at exit|All heap blocks|definitely lost|indirectly lost|possibly lost' "$LOG" |
    sed 's/^==[0-9]*== */  valgrind: /'
check "valgrind's leak check ran at exit" grep -q 'HEAP SUMMARY' "$LOG"
check "no memory errors" grep -q 'ERROR SUMMARY: 0 errors' "$LOG"
check "nothing definitely lost" \
    bash -c "! grep -E 'definitely lost: [1-9]' '$LOG' >/dev/null"
check "nothing indirectly lost" \
    bash -c "! grep -E 'indirectly lost: [1-9]' '$LOG' >/dev/null"
if [ "$failed" -ne 0 ]; then
    echo "---- $LOG (first 80 lines of errors) ----"
    grep -vE '^==[0-9]+== *$' "$LOG" | sed -n '1,80p'
fi
finish
