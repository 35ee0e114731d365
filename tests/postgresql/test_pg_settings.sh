#!/usr/bin/env bash
# test_pg_settings.sh - `mlpd serve --db postgresql://...` at start: a
# malformed URI, an unreachable server, a wrong password and a database whose
# schema is newer than the binary each end the start with a clear message
# and exit status 2, quickly, never a hang; the password never reaches the
# log; two daemons started at once on an empty database both migrate it
# (pg_advisory_lock) and become ready. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
. tests/postgresql/lib.sh
work=$(mktemp -d /tmp/mlpd-pgset-XXXXXX)
dir=$(mktemp -u /tmp/mlpd-pg-XXXXXX) # its own: the cluster's user must reach it
uri=$(tools/pg-tmp.sh start "$dir" | tail -n 1)
port=$(cat "$dir/port")
pw=$(cat "$dir/pwfile")
mkdir -p "$work/data"

serve() { # log, --db value: runs serve (bounded by timeout), prints its exit status
    local log=$1 db=$2 start=$SECONDS rc
    timeout 30 "$MLPD_BIN" serve --port 0 --db "$db" --data-dir "$work/data" \
        --migrations migrations >"$log" 2>&1
    rc=$?
    echo "$rc $((SECONDS - start))"
}
expect_refused() { # name, --db value, text the log must hold
    local name=$1 db=$2 text=$3 out rc secs
    out=$(serve "$work/$name.log" "$db"); read -r rc secs <<<"$out"
    check "$name: exit status 2 (got $rc)" test "$rc" = 2
    check "$name: refused within 10 s (${secs} s)" test "$secs" -le 10
    check "$name: the log says '$text'" grep -q "$text" "$work/$name.log"
    check "$name: the password is not in the log" bash -c "! grep -qF '$pw' '$work/$name.log'"
}

expect_refused malformed "postgresql://mlpd:$pw@127.0.0.1:$port/mlpd?no_such_option=1" \
    "bad PostgreSQL URI: invalid URI query parameter"
expect_refused bad-port "postgresql://mlpd:$pw@127.0.0.1:notaport/mlpd" "invalid integer value"
# A port nothing listens on: the connection is refused at once.
free=$((port + 1)); while (exec 3<>"/dev/tcp/127.0.0.1/$free") 2>/dev/null; do free=$((free + 1)); done
expect_refused unreachable "postgresql://mlpd:$pw@127.0.0.1:$free/mlpd" "cannot connect to PostgreSQL"
# A host that drops packets: connect_timeout (5 s) ends the wait (TEST-NET-1, RFC 5737).
expect_refused blackhole "postgresql://mlpd:$pw@192.0.2.1:5432/mlpd" "cannot connect to PostgreSQL"
expect_refused wrong-password "postgresql://mlpd:wrong-$pw@127.0.0.1:$port/mlpd" \
    "password authentication failed"

# Two daemons at once on the empty database: both migrate under the lock.
for i in 1 2; do
    timeout 60 "$MLPD_BIN" serve --port 0 --port-file "$work/port$i" --db "$uri" \
        --data-dir "$work/data" --migrations migrations >"$work/both$i.log" 2>&1 &
    eval "pid$i=\$!"
done
for _ in $(seq 1 100); do [ -s "$work/port1" ] && [ -s "$work/port2" ] && break; sleep 0.1; done
for i in 1 2; do
    p=$(cat "$work/port$i" 2>/dev/null)
    check "daemon $i of two started at once is ready" \
        bash -c "curl -sf http://127.0.0.1:$p/readyz | grep -q ready"
done
kill "$pid1" "$pid2"; wait "$pid1" "$pid2"
check "each migration recorded once" \
    bash -c "psql '$uri' -Atc 'SELECT count(*) = count(DISTINCT version) FROM mlpd_schema_migrations' | grep -qx t"

psql "$uri" -qc "INSERT INTO mlpd_schema_migrations VALUES (999, '999_future.sql', 0)"
expect_refused newer-schema "$uri" "newer than this mlpd"

tools/pg-tmp.sh stop "$dir"
rm -rf "$work"
summary
