#!/bin/bash
# healthcheck.sh - the image's HEALTHCHECK: GET /healthz on the daemon's own
# port, healthy when the answer's status line says 200.
#
# It uses bash's /dev/tcp so that the runtime image needs no HTTP client
# (curl and its libraries would add several MB). The daemon listens on
# MLPD_BIND:MLPD_PORT; the probe always goes to the loopback address, which a
# daemon bound to 0.0.0.0 also answers. Exit status: 0 healthy, 1 not.
set -u
port=${MLPD_PORT:-8080}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status_line <&3 || exit 1
exec 3<&-
case $status_line in
    "HTTP/1."[01]" 200 "*) exit 0 ;;
    *) exit 1 ;;
esac
