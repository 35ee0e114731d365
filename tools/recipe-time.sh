#!/bin/bash
# recipe-time.sh - time docs/recipes bodies through POST /train, as issue 16's
# targets count it: wall time from the POST to the finished job (queueing,
# training, the test-set evaluation and this script's 1 s polling included),
# with one daemon (--max-jobs 1) of this tree's build on 127.0.0.1.
#
#   tools/recipe-time.sh fashion-mnist-120s.json [more.json ...]
#
# MLPD_BIN (default build/mlpd), PORT (default 18999) and DATA (default
# data/) can be set. Note the machine's load: figures on a shared machine
# are upper bounds. The job's own train_seconds is printed too.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${MLPD_BIN:-$root/build/mlpd}
port=${PORT:-18999}
data=${DATA:-$root/data}
tmp=$(mktemp -d)
"$bin" serve --bind 127.0.0.1 --port "$port" --db "$tmp/m.db" --data-dir "$data" \
    --migrations "$root/migrations" --web-dir "$root/web" --api-dir "$root/api" --quiet \
    >"$tmp/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
url=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.2; done
field() { python3 -c 'import sys,json; d=json.load(sys.stdin); print(d.get(sys.argv[1]))' "$1"; }
for r in "$@"; do
    body=$r
    [ -f "$body" ] || body=$root/docs/recipes/$r
    echo "$r: start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
    t0=$(date +%s.%N)
    loc=$(curl -s -D - -o /dev/null -X POST "$url/train" -H 'Content-Type: application/json' \
        --data-binary @"$body" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
    [ -n "$loc" ] || { echo "$r: refused"; continue; }
    while :; do
        j=$(curl -s "$url$loc")
        s=$(echo "$j" | field status)
        [ "$s" = queued ] || [ "$s" = running ] || break
        sleep 1
    done
    t1=$(date +%s.%N)
    echo "$j" | python3 -c '
import sys, json
d = json.load(sys.stdin)
print({k: d.get(k) for k in ("status", "test_accuracy", "epoch", "model_id", "error")})'
    mid=$(echo "$j" | field model_id)
    [ "$mid" != None ] && curl -s "$url/models/$mid" |
        python3 -c 'import sys,json; m=json.load(sys.stdin)["metrics"]; print("train_seconds", m.get("train_seconds"))'
    echo "$r: POST to finished $(echo "$t1 - $t0" | bc) s, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
