#!/usr/bin/env bash
# test_pg_cluster.sh - the throwaway PostgreSQL cluster of tools/pg-tmp.sh and
# the PostgreSQL migrations: a cluster starts on loopback as an unprivileged
# user, takes the right password and refuses a wrong one, every file of
# migrations/postgresql/ applies in order in one transaction each, the
# cluster restarts on its port with the data kept, and stop removes it all.
# Ends with "N passed, N failed" (tests/run.sh).
set -u
cd "$(dirname "$0")/../.."
. tests/postgresql/lib.sh

dir=$(mktemp -u /tmp/mlpd-pg-XXXXXX)
uri=$(tools/pg-tmp.sh start "$dir" | tail -n 1)
check "cluster started, URI printed" test -n "$uri"
port=$(cat "$dir/port" 2>/dev/null)
owner=$(stat -c %U "$dir/data" 2>/dev/null)
check "data owned by an unprivileged user" test -n "$owner" -a "$owner" != root
check "listens on 127.0.0.1 only" \
    bash -c "ss -ltnH 'sport = :$port' | awk '{print \$4}' | grep -qx '127.0.0.1:$port'"
check "the URI's password is accepted" psql "$uri" -Atc 'SELECT 1'
check "a wrong password is refused" \
    bash -c "! psql 'postgresql://mlpd:wrong@127.0.0.1:$port/mlpd' -Atc 'SELECT 1'"
for f in migrations/postgresql/[0-9]*_*.sql; do
    check "migration $(basename "$f") applies" psql "$uri" -v ON_ERROR_STOP=1 -q -1 -f "$f"
done
check "the tables are there" \
    bash -c "psql '$uri' -Atc \"SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
             AND tablename IN ('datasets', 'runs', 'metrics', 'models')\" | grep -qx 4"
psql "$uri" -q -c "INSERT INTO datasets (name, source, path, format, features, classes,
                   created_at) VALUES ('d', 'upload', 'd.csv', 'csv', 4, 3, 0)" >/dev/null 2>&1
check "restart on the same port" tools/pg-tmp.sh restart "$dir"
check "a committed row survives the restart" \
    bash -c "psql '$uri' -Atc 'SELECT name FROM datasets' | grep -qx d"
tools/pg-tmp.sh stop "$dir"
check "stop removes the folder" test ! -e "$dir"
check "nothing listens on the port after stop" bash -c "! ss -ltnH 'sport = :$port' | grep -q ."
summary
