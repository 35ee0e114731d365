#!/bin/bash
# healthcheck.sh - the image's HEALTHCHECK: GET /healthz on the daemon's own
# port, healthy when the answer's status line says 200.
#
# It uses bash's /dev/tcp so that the runtime image needs no HTTP client
# (curl and its libraries would add several MB). The daemon listens on
# MLPD_BIND:MLPD_PORT; the probe goes there, or to the loopback address when
# the daemon listens on every interface (0.0.0.0). Exit status: 0 healthy, 1 not.
set -u
port=${MLPD_PORT:-8080}
host=${MLPD_BIND:-0.0.0.0}
[ "$host" = 0.0.0.0 ] && host=127.0.0.1
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 5 status_line <&3 || exit 1
exec 3<&-
case $status_line in
    "HTTP/1."[01]" 200 "*) exit 0 ;;
    *) exit 1 ;;
esac
