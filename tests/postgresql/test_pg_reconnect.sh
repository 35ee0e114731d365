#!/usr/bin/env bash
# test_pg_reconnect.sh - a daemon on PostgreSQL while the server restarts:
# /readyz turns 503 while the database is unreachable and /healthz stays 200,
# the daemon reconnects by itself (200 again, no restart of mlpd), and what
# it acknowledged before (a finished job, its metrics, its model) is all
# still there, and new work is accepted. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
. tests/postgresql/lib.sh
work=$(mktemp -d /tmp/mlpd-pgre-XXXXXX)
dir=$(mktemp -u /tmp/mlpd-pg-XXXXXX)
uri=$(tools/pg-tmp.sh start "$dir" | tail -n 1)
mkdir -p "$work/data"; ln -s "$PWD/data/mnist-digits" "$work/data/mnist-digits"
"$MLPD_BIN" serve --port 0 --port-file "$work/port" --db "$uri" --data-dir "$work/data" \
    --migrations migrations >"$work/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
M=http://127.0.0.1:$(cat "$work/port")
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
wait_code() { # want, url: up to 20 s
    for _ in $(seq 1 200); do [ "$(code "$2")" = "$1" ] && return 0; sleep 0.1; done; return 1
}
check "ready on PostgreSQL" wait_code 200 "$M/readyz"
curl -s -X POST "$M/train" -H 'Content-Type: application/json' -d '{"hidden":[16],"epochs":2}' >/dev/null
for _ in $(seq 1 300); do curl -s "$M/jobs/1" | grep -q '"status":"succeeded"' && break; sleep 0.1; done
before=$(curl -s "$M/jobs/1/metrics?since=0")
check "job 1 succeeded before the restart" bash -c "curl -s $M/jobs/1 | grep -q '\"model_id\":1'"

tools/pg-tmp.sh down "$dir"
check "not ready while PostgreSQL is down" wait_code 503 "$M/readyz"
check "alive while PostgreSQL is down" test "$(code "$M/healthz")" = 200
check "a read answers 5xx, not a hang" \
    bash -c "c=\$(curl -s -m 10 -o /dev/null -w '%{http_code}' $M/jobs/1); [ \${c:0:1} = 5 ]"
tools/pg-tmp.sh up "$dir"
check "ready again after PostgreSQL came back" wait_code 200 "$M/readyz"
check "the daemon was not restarted" kill -0 "$pid"
check "job 1 and its model are still there" bash -c "curl -s $M/jobs/1 | grep -q '\"model_id\":1'"
check "its metrics are unchanged" test "$(curl -s "$M/jobs/1/metrics?since=0")" = "$before"
check "the model file is served" test "$(code "$M/models/1/file")" = 200
check "new work is accepted" \
    test "$(code -X POST "$M/train" -H 'Content-Type: application/json' -d '{"hidden":[8],"epochs":1}')" = 202
for _ in $(seq 1 300); do curl -s "$M/jobs/2" | grep -q '"status":"succeeded"' && break; sleep 0.1; done
check "and finishes" bash -c "curl -s $M/jobs/2 | grep -q '\"status\":\"succeeded\"'"
kill "$pid"; wait "$pid"
check "clean exit" test $? = 0
tools/pg-tmp.sh stop "$dir"
rm -rf "$work"
summary
