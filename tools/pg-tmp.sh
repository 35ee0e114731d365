#!/usr/bin/env bash
# pg-tmp.sh - a throwaway PostgreSQL cluster for tests and benchmarks.
#
#   tools/pg-tmp.sh start DIR    make DIR (must not exist; its parent must be
#                                searchable by MLPD_PG_USER), initdb a cluster in it,
#                                start it on 127.0.0.1 and a free port; prints its URI
#                                postgresql://mlpd:PASSWORD@127.0.0.1:PORT/mlpd
#                                (also written to DIR/uri)
#   tools/pg-tmp.sh stop DIR     stop that cluster (fast shutdown) and remove DIR
#   tools/pg-tmp.sh down DIR     stop the server only (data and port kept)
#   tools/pg-tmp.sh up DIR       start it again on the same port
#   tools/pg-tmp.sh restart DIR  down (when running), then up
#
# Debian's own binaries (postgresql-15: initdb, pg_ctl) run as an unprivileged
# user: PostgreSQL refuses to run as root, and CI runs the tests as root, so
# under root every command goes through runuser to the account named by
# MLPD_PG_USER (default postgres, which Debian's package creates). The cluster
# listens on loopback only, with its Unix socket inside DIR, scram-sha-256
# password authentication for TCP, and fsync off: it is thrown away, and a
# test's "nothing acknowledged lost" is about the daemon's commits reaching
# the server, which a clean restart keeps.
set -euo pipefail

PG_BIN=${MLPD_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PG_BIN/initdb" ] || { echo "pg-tmp: no initdb under /usr/lib/postgresql (make deps)" >&2; exit 1; }
RUN_AS=${MLPD_PG_USER:-postgres}

as_pg() { # command... as the unprivileged user when we are root
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$RUN_AS" -- "$@"; else "$@"; fi
}

free_port() { # a TCP port nothing listens on, from the ephemeral-free range 20000-29999
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 10000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}

pg_start() { # dir port
    as_pg "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $2 -k $1/sock -c fsync=off -c max_connections=200" \
        start >/dev/null
}

start() {
    local dir=$1
    [ ! -e "$dir" ] || { echo "pg-tmp: $dir exists" >&2; exit 1; }
    mkdir -p "$dir/sock"
    local pw
    pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$pw" >"$dir/pwfile"
    if [ "$(id -u)" -eq 0 ]; then chown -R "$RUN_AS" "$dir"; fi
    chmod 700 "$dir"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U mlpd --pwfile="$dir/pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    local port tries=0
    while :; do
        port=$(free_port)
        if pg_start "$dir" "$port" 2>>"$dir/start.err"; then break; fi
        tries=$((tries + 1))
        [ $tries -lt 5 ] || { cat "$dir/server.log" "$dir/start.err" >&2; exit 1; }
    done
    echo "$port" >"$dir/port"
    as_pg "$PG_BIN/createdb" -h "$dir/sock" -p "$port" -U mlpd mlpd
    echo "postgresql://mlpd:$pw@127.0.0.1:$port/mlpd" | tee "$dir/uri"
}

stop() {
    local dir=$1
    [ -d "$dir/data" ] || { echo "pg-tmp: no cluster in $dir" >&2; exit 1; }
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

down() {
    as_pg "$PG_BIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null
}

up() {
    pg_start "$1" "$(cat "$1/port")"
}

restart() {
    if as_pg "$PG_BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1; then down "$1"; fi
    up "$1"
}

case ${1:-} in
start | stop | down | up | restart)
    [ $# -eq 2 ] || { echo "usage: $0 $1 DIR" >&2; exit 2; }
    "$1" "$2" ;;
*) echo "usage: $0 start|stop|down|up|restart DIR" >&2; exit 2 ;;
esac
