#!/usr/bin/env bash
# docker-test.sh - builds mlpd's image and checks it end to end under Compose
# (make docker-test; docs/docker.md). Needs root (apt-get, dockerd).
#
#   1. installs docker.io, docker-compose and debootstrap when missing;
#   2. starts dockerd (--iptables=false: the host firewall is left alone)
#      unless one already answers; that one is left running at the end;
#   3. makes the base image debian:bookworm-slim with debootstrap from the
#      Debian mirror named in this machine's apt sources (skipped when the
#      image exists; nothing is pulled from a registry);
#   4. builds the image with compose (host network for the build's apt-get),
#      starts it, waits for the HEALTHCHECK, and walks through the API with
#      curl: upload a small CSV dataset, train on it, poll the job until it
#      succeeds, predict once;
#   5. stops it with the compose stop signal and checks it exited 0, starts it
#      again and checks the run survived in the volume;
#   6. removes the containers, network and volume (the images stay as a
#      cache) and stops the dockerd it started.
# Ends with "N passed, N failed"; exits 1 on any failure. Every wait has a
# timeout. Environment: MLPD_HOST_PORT (default: a free port),
# MLPD_DOCKER_KEEP=1 (leave the stack and dockerd running, for debugging),
# TEST_OUT (logs; default build/docker-test).
set -uo pipefail
cd "$(dirname "$0")/.."

# ok/check/wait_until/finish, dockerd, the base image, compose, http/json:
# tools/docker-common.sh, shared with tools/docker-fleet-test.sh.
OUT=${TEST_OUT:-build/docker-test}
PROJECT=mlpdtest
COMPOSE_FILE=docker/compose.yaml
TAG=docker-test
# shellcheck source=tools/docker-common.sh
. tools/docker-common.sh
docker_common_init
started_stack=0

# ---- 4-5. the stack -------------------------------------------------------------------
container_id() { compose ps -q mlpd 2>/dev/null | head -n 1; }
# logs_say TEXT: the daemon logged TEXT (grep reads the whole log: with
# pipefail, grep -q's early exit would fail the pipeline through SIGPIPE).
logs_say() { docker logs "$(container_id)" 2>&1 | grep -F "$1" >/dev/null; }
container_state() { # field of .State, e.g. Status, ExitCode, Health.Status
    local id; id=$(container_id)
    [ -n "$id" ] && docker inspect --format "{{.State.$1}}" "$id" 2>/dev/null
}
is_healthy() { [ "$(container_state Health.Status)" = healthy ]; }

cleanup() {
    if [ "${MLPD_DOCKER_KEEP:-0}" = 1 ]; then
        log "MLPD_DOCKER_KEEP=1: leaving the stack and dockerd running"
        return
    fi
    remove_extra_ca
    if [ "$started_stack" = 1 ]; then
        compose logs --no-color >"$OUT/mlpd.log" 2>&1
        compose down -v --remove-orphans >"$OUT/down.log" 2>&1
        started_stack=0
    fi
    stop_dockerd
}
trap 'bad "interrupted"; finish' INT TERM

# ---- the API walkthrough ----------------------------------------------------------------
RUN_ID=
MODEL_ID=
DATASET=docker-walk

job_status() { http GET "/jobs/$RUN_ID" >/dev/null && json 'j["status"]'; }
job_ended() { case $(job_status) in succeeded|failed|cancelled) return 0 ;; esac; return 1; }

walkthrough() {
    check "GET /healthz answers 200" test "$(http GET /healthz)" = 200
    check "GET /readyz answers 200" test "$(http GET /readyz)" = 200
    check "GET / serves the dashboard" test "$(http GET /)" = 200
    check "GET /openapi.yaml serves the spec" test "$(http GET /openapi.yaml)" = 200

    make_csv >"$OUT/walk.csv"
    local code
    code=$(http POST "/datasets?name=$DATASET" -H 'Content-Type: text/csv' \
        --data-binary "@$OUT/walk.csv")
    check "POST /datasets uploads a CSV (201, got $code)" test "$code" = 201
    check "the dataset has 400 rows, 4 features, 2 classes" \
        test "$(json '(j["n_train"], j["features"], j["classes"])')" = "(400, 4, 2)"

    code=$(http POST /train -H 'Content-Type: application/json' --data-binary \
        "{\"dataset\":\"$DATASET\",\"hidden\":[16],\"epochs\":30,\"batch_size\":16,\
\"learning_rate\":0.1,\"validation_split\":0.1,\"seed\":1}")
    RUN_ID=$(json 'j["id"]')
    check "POST /train queues a job (202, got $code, id ${RUN_ID:-none})" \
        test "$code" = 202 -a -n "$RUN_ID"
    [ -n "$RUN_ID" ] || return 1

    wait_until 180 job_ended
    local st; st=$(job_status)
    check "job $RUN_ID succeeded (status $st)" test "$st" = succeeded
    [ "$st" = succeeded ] || { cp "$OUT/body" "$OUT/job.json"; return 1; }
    MODEL_ID=$(json 'j["model_id"]')
    local acc; acc=$(json 'j["accuracy"]')
    check "training accuracy above 0.8 (got $acc)" \
        python3 -c "import sys; sys.exit(0 if float('$acc') > 0.8 else 1)"

    # Two points far on either side of the boundary x0 + x1 = 1.
    code=$(http POST /predict -H 'Content-Type: application/json' --data-binary \
        "{\"model\":$MODEL_ID,\"inputs\":[[0.95,0.9,0.5,0.5],[0.05,0.1,0.5,0.5]]}")
    check "POST /predict answers 200 (got $code)" test "$code" = 200
    check "the predictions are [1, 0]" \
        test "$(json '[p["label"] for p in j["predictions"]]')" = "[1, 0]"
}

run_still_there() {
    [ "$(http GET "/jobs/$RUN_ID")" = 200 ] && [ "$(json 'j["status"]')" = succeeded ] \
        && [ "$(json 'j["model_id"]')" = "$MODEL_ID" ] \
        && [ "$(http GET "/datasets/$DATASET")" = 200 ]
}

# ---- main ------------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || abort "must run as root (apt-get, dockerd)"
install_missing || abort "install docker.io docker-compose debootstrap (see $OUT/apt.log)"
ok "packages present"

start_dockerd || abort "dockerd did not answer within 60 s (see $OUT/dockerd.log)"
ok "dockerd answers"

pick_compose

t0=$SECONDS
make_base_image || abort "base image $BASE_IMAGE (see $OUT/debootstrap.log)"
ok "base image $BASE_IMAGE ($((SECONDS - t0)) s)"

PORT=${MLPD_HOST_PORT:-$(free_port)}
export MLPD_HOST_PORT=$PORT
# One core: the daemon must size OpenBLAS by the quota, not the host's cores.
export MLPD_CPUS=1
BASE=http://127.0.0.1:$PORT

extra_ca

t0=$SECONDS
log "building (log: $OUT/build.log)"
COMPOSE_LIMIT=1200 compose build >"$OUT/build.log" 2>&1 \
    || abort "image build (see $OUT/build.log)"
build_s=$((SECONDS - t0))
VERSION=${MLPD_VERSION:-0.3.0}
docker tag "mlpd:$VERSION" mlpd:latest
size=$(docker image inspect --format '{{.Size}}' mlpd:latest)
ok "image built in $build_s s, $((size / 1000000)) MB, tagged mlpd:$VERSION and mlpd:latest"

# The runtime image holds what the issue asks for and runs as non-root.
check "image runs as the numeric non-root user 10001:10001" \
    test "$(docker image inspect --format '{{.Config.User}}' mlpd:latest)" = 10001:10001
check "image carries OCI labels with version $VERSION" test "$(docker image inspect --format \
    '{{index .Config.Labels "org.opencontainers.image.version"}}' mlpd:latest)" = "$VERSION"
check "the build stage installed the npm packages itself (no host node_modules in the context)" \
    grep -q 'npm ci' "$OUT/build.log"
check "image holds the binary, web/, migrations/ and api/openapi.yaml" \
    timeout 60 docker run --rm --entrypoint /bin/sh mlpd:latest -c \
    'test -x /usr/local/bin/mlpd && test -s "$MLPD_WEB_DIR/index.html" &&
     test -s "$MLPD_WEB_DIR/vendor/chart.umd.js" &&
     ls "$MLPD_MIGRATIONS"/*.sql >/dev/null && test -s "$MLPD_API_DIR/openapi.yaml"'
check "image has no compiler" \
    timeout 60 docker run --rm --entrypoint /bin/sh mlpd:latest -c '! command -v cc && ! command -v gcc'

log "starting on $BASE"
started_stack=1
compose up -d >"$OUT/up.log" 2>&1 || abort "compose up (see $OUT/up.log)"
wait_until 90 is_healthy || abort "container healthy within 90 s (state: $(container_state Status))"
ok "container healthy"
check "restart policy unless-stopped" test "$(docker inspect --format \
    '{{.HostConfig.RestartPolicy.Name}}' "$(container_id)")" = unless-stopped
check "root filesystem read-only, every capability dropped, no-new-privileges" test \
    "$(docker inspect --format '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}}' \
      "$(container_id)")" = "true [ALL] [no-new-privileges:true]"
check "CPU quota of one core (MLPD_CPUS=1) gives OpenBLAS one thread" \
    logs_say 'OpenBLAS threads 1 '
check "port published on the loopback only" \
    test "$(docker port "$(container_id)" 8080/tcp | sort -u)" = "127.0.0.1:$PORT"

walkthrough || abort "API walkthrough"

# Stop with the compose stop signal: mlpd must shut down cleanly on its own.
t0=$SECONDS
compose stop >"$OUT/stop.log" 2>&1
stop_s=$((SECONDS - t0))
check "stopped within the 20 s grace period (took $stop_s s)" \
    bash -c "[ $stop_s -lt 20 ] && [ \"\$1\" = exited ]" _ "$(container_state Status)"
check "exit code 0 after SIGTERM (got $(container_state ExitCode))" \
    test "$(container_state ExitCode)" = 0
check "not killed for lack of memory" test "$(container_state OOMKilled)" = false

compose start >"$OUT/start.log" 2>&1
wait_until 90 is_healthy || abort "healthy again after restart within 90 s"
ok "healthy after restart"
check "run $RUN_ID kept in the volume across restarts" run_still_there

finish
