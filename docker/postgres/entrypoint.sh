#!/bin/sh
# First start: initdb with scram-sha-256 for TCP and the mlpd role/database;
# then (every start) run the server in the foreground on all interfaces of
# the container (compose's network only; nothing is published on the host).
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb -D "$PGDATA" -U "${POSTGRES_USER:-mlpd}" --pwfile="$POSTGRES_PASSWORD_FILE" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8
    echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
    pg_ctl -D "$PGDATA" -w start -o "-c listen_addresses=''"
    createdb -U "${POSTGRES_USER:-mlpd}" "${POSTGRES_DB:-mlpd}"
    pg_ctl -D "$PGDATA" -w stop
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c max_connections=200
