#!/usr/bin/env bash
# docker-fleet-test.sh - builds the fleet's images and checks, under Compose,
# that the job and the predictions carry on when daemons die
# (make docker-fleet-test; docs/scale-out.md). Needs root (apt-get, dockerd).
#
#   1. packages, dockerd and the debian:bookworm-slim base image as
#      tools/docker-test.sh does (tools/docker-common.sh); a random
#      docker/pg-password when there is none (removed again at the end);
#   2. builds docker/compose.fleet.yaml's images (PostgreSQL, mlpd, HAProxy:
#      all from the base image with Debian packages, nothing pulled) and starts
#      it with `--scale api=2`; waits for HAProxy's /readyz and for each
#      daemon's own;
#   3. uploads a CSV data set through HAProxy (to the shared datasets volume)
#      and trains a small model on it: the trainer's --node-name is the job's
#      `worker`; both api replicas predict it;
#   4. while predictions run through HAProxy in a bounded loop, submits a
#      longer job and `docker kill`s one api replica: every prediction answers
#      2xx (HAProxy retries a request whose connection failed or got no
#      answer on another daemon; POST /predict has no side effect), the job
#      is trained by the trainer with one claim, and its model is predicted
#      through the replica left, directly and through HAProxy;
#   5. submits the same job again and `docker kill`s the trainer mid-job
#      (after 2 epochs), starts it again: the trainer queues its own run again
#      at start, resumes it after its checkpoint's epoch (its log says so;
#      2 claims), each epoch's loss is recorded once, and the model's bytes
#      equal the uninterrupted run's (same config, seed and threads);
#   6. removes the containers, network and volumes (the images stay as a
#      cache; a failed build leaves no container either: --force-rm) and
#      stops the dockerd it started.
# Ends with "N passed, N failed"; exits 1 on any failure. Every wait has a
# timeout. Environment: MLPD_HOST_PORT (default: a free port),
# MLPD_DOCKER_KEEP=1 (leave the stack and dockerd running, for debugging),
# TEST_OUT (logs; default build/docker-fleet-test).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${TEST_OUT:-build/docker-fleet-test}
PROJECT=mlpdfleet
COMPOSE_FILE=docker/compose.fleet.yaml
TAG=docker-fleet-test
# shellcheck source=tools/docker-common.sh
. tools/docker-common.sh
docker_common_init
started_stack=0
made_password=0
load_pid=

# ---- the stack ---------------------------------------------------------------------------
# ids SERVICE: its containers' ids, running or not, one a line, sorted.
ids() { compose ps -q "$1" 2>/dev/null | sort; }
state() { docker inspect --format "{{.State.$2}}" "$1" 2>/dev/null; } # id, field
running() { [ "$(state "$1" Running)" = true ]; }
down() { [ "$(state "$1" Running)" = false ]; }
ip_of() { docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
# node_of ID: the --node-name a daemon in that container has (hostname:port).
node_of() { echo "$(docker inspect --format '{{.Config.Hostname}}' "$1"):8080"; }
# direct ID METHOD PATH [curl args...]: http to one daemon, not through HAProxy
# (the host reaches the containers' addresses on the bridge).
direct() { local id=$1; shift; HTTP_BASE="http://$(ip_of "$id"):8080" http "$@"; }
ready_direct() { [ "$(direct "$1" GET /readyz)" = 200 ]; }
ready_lb() { [ "$(http GET /readyz)" = 200 ]; }
counter() { # ID NAME: a counter from the daemon's /metrics
    [ "$(direct "$1" GET /metrics)" = 200 ] && awk -v n="$2" '$1 == n { print $2 + 0 }' "$OUT/body"
}

cleanup() {
    stop_load
    if [ "${MLPD_DOCKER_KEEP:-0}" = 1 ]; then
        log "MLPD_DOCKER_KEEP=1: leaving the stack and dockerd running"
        return
    fi
    remove_extra_ca
    if [ "$started_stack" = 1 ]; then
        compose logs --no-color >"$OUT/fleet.log" 2>&1
        compose down -v --remove-orphans >"$OUT/down.log" 2>&1
        started_stack=0
    fi
    if [ "$made_password" = 1 ]; then rm -f docker/pg-password; made_password=0; fi
    stop_dockerd
}
trap 'bad "interrupted"; finish' INT TERM

# ---- jobs -----------------------------------------------------------------------------------
DATASET=fleet-walk
# The longer job (on 10,000 rows): 30 epochs of about 0.25 s on this
# machine's 2 cores, long enough to kill a daemon while it trains; the same
# config and seed twice give the same weights.
LONG_EPOCHS=30
LONG_JOB="{\"dataset\":\"$DATASET\",\"hidden\":[256,256],\"epochs\":$LONG_EPOCHS,\"batch_size\":32,\
\"learning_rate\":0.05,\"validation_split\":0.1,\"seed\":3}"

submit() { # JSON: queues a job through HAProxy; its id on stdout, empty on failure
    [ "$(http POST /train -H 'Content-Type: application/json' --data-binary "$1")" = 202 ] \
        && json 'j["id"]'
}
job_field() { http GET "/jobs/$1" >/dev/null && json "j[\"$2\"]"; } # id, field
job_ended() { case $(job_field "$1" status) in succeeded|failed|cancelled) return 0 ;; esac; return 1; }
epoch_at_least() { [ "$(job_field "$1" status)" = running ] && [ "$(job_field "$1" epoch)" -ge "$2" ]; }
# predict_on [direct ID] MODEL: POST /predict of two rows far on either side
# of the boundary; 0 when it answers 200 with the labels [1, 0].
TWO_ROWS='[[0.95,0.9,0.5,0.5],[0.05,0.1,0.5,0.5]]'
predicts() {
    local via=(http)
    if [ "$1" = direct ]; then via=(direct "$2"); shift 2; fi
    [ "$("${via[@]}" POST /predict -H 'Content-Type: application/json' \
        --data-binary "{\"model\":$1,\"inputs\":$TWO_ROWS}")" = 200 ] \
        && [ "$(json '[p["label"] for p in j["predictions"]]')" = "[1, 0]" ]
}
loss_epochs() { # job: "epochs with a loss metric, distinct epochs"
    http GET "/jobs/$1/metrics?limit=10000" >/dev/null \
        && json '(lambda e: "%d %d" % (len(e), len(set(e))))([m["epoch"] for m in j["metrics"] if m["key"] == "loss"])'
}

# ---- predictions under load ----------------------------------------------------------------
# start_load MODEL: POST /predict through HAProxy, one request after another,
# until stop_load or LOAD_LIMIT seconds; each answer's status code (000: no
# answer within 10 s) and seconds taken are a line of $OUT/load-codes.
LOAD_LIMIT=90
start_load() {
    rm -f "$OUT/load-codes" "$OUT/load-stop"
    (
        t0=$SECONDS
        while [ ! -e "$OUT/load-stop" ] && [ $((SECONDS - t0)) -lt $LOAD_LIMIT ]; do
            curl -s -o /dev/null --max-time 10 -w '%{http_code} %{time_total}\n' -X POST "$BASE/predict" \
                -H 'Content-Type: application/json' \
                --data-binary "{\"model\":$1,\"inputs\":$TWO_ROWS}" >>"$OUT/load-codes"
        done
    ) &
    load_pid=$!
}
load_count_at_least() { [ "$(cat "$OUT/load-codes" 2>/dev/null | wc -l)" -ge "$1" ]; }
stop_load() {
    [ -n "$load_pid" ] || return 0
    touch "$OUT/load-stop"
    wait_until 15 bash -c "! kill -0 $load_pid"
    kill "$load_pid" 2>/dev/null
    wait "$load_pid" 2>/dev/null
    load_pid=
}

# ---- main ------------------------------------------------------------------------------------
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
BASE=http://127.0.0.1:$PORT
if [ ! -s docker/pg-password ]; then
    head -c 24 /dev/urandom | base64 >docker/pg-password
    made_password=1
fi
# Read by PostgreSQL's and mlpd's users in the containers (a bind mount).
chmod 644 docker/pg-password
extra_ca

t0=$SECONDS
log "building (log: $OUT/build.log)"
COMPOSE_LIMIT=1500 compose build --force-rm >"$OUT/build.log" 2>&1 || abort "image build (see $OUT/build.log)"
ok "images built in $((SECONDS - t0)) s"
check "images mlpd, mlpd-postgres and mlpd-haproxy exist" \
    docker image inspect mlpd:latest mlpd-postgres:latest mlpd-haproxy:latest >/dev/null

log "starting on $BASE with 2 api replicas"
t0=$SECONDS
started_stack=1
# What an interrupted earlier run left (a cluster made with another password).
compose down -v --remove-orphans >"$OUT/down-before.log" 2>&1
COMPOSE_LIMIT=300 compose up -d --scale api=2 >"$OUT/up.log" 2>&1 || abort "compose up (see $OUT/up.log)"
wait_until 120 ready_lb || abort "HAProxy's /readyz 200 within 120 s"
ok "HAProxy's /readyz answers 200 ($((SECONDS - t0)) s after up)"
mapfile -t API < <(ids api)
TRAINER=$(ids trainer)
check "2 api replicas and a trainer running" \
    test "${#API[@]}" = 2 -a -n "$TRAINER" -a "$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT" | wc -l)" = 5
[ "${#API[@]}" = 2 ] && [ -n "$TRAINER" ] || abort "the fleet's containers"
for id in "${API[@]}" "$TRAINER"; do
    check "daemon $(node_of "$id") ready" wait_until 60 ready_direct "$id"
done
check "the trainer serves no predictions (404)" \
    test "$(direct "$TRAINER" POST /predict -H 'Content-Type: application/json' -d '{}')" = 404
check "PostgreSQL's port is not published on the host" \
    test -z "$(docker port "$(ids postgres)" 2>/dev/null)"

# ---- a data set and a first model ----
make_csv 10000 >"$OUT/fleet.csv"
code=$(http POST "/datasets?name=$DATASET" -H 'Content-Type: text/csv' --data-binary "@$OUT/fleet.csv")
check "POST /datasets through HAProxy uploads a CSV (201, got $code)" test "$code" = 201
for id in "${API[@]}"; do
    check "the data set is known to $(node_of "$id")" test "$(direct "$id" GET "/datasets/$DATASET")" = 200
done
job_a=$(submit "{\"dataset\":\"$DATASET\",\"hidden\":[16],\"epochs\":10,\"batch_size\":16,\
\"learning_rate\":0.1,\"validation_split\":0.1,\"seed\":1}")
[ -n "$job_a" ] || abort "POST /train through HAProxy (202)"
wait_until 180 job_ended "$job_a"
check "job $job_a succeeded" test "$(job_field "$job_a" status)" = succeeded
check "job $job_a trained by the trainer ($(node_of "$TRAINER"))" \
    test "$(job_field "$job_a" worker)" = "$(node_of "$TRAINER")"
model_a=$(job_field "$job_a" model_id)
for id in "${API[@]}"; do
    check "model $model_a predicted by $(node_of "$id")" predicts direct "$id" "$model_a"
done

# ---- kill an api replica under prediction load, with a job running ----
start_load "$model_a"
job_b=$(submit "$LONG_JOB")
[ -n "$job_b" ] || abort "POST /train of the long job"
wait_until 20 load_count_at_least 40
VICTIM=${API[0]}
SURVIVOR=${API[1]}
for id in "${API[@]}"; do
    n=$(counter "$id" mlpd_predict_requests_total)
    check "$(node_of "$id") answered predictions through HAProxy before the kill (${n:-0})" \
        test "${n:-0}" -gt 1
done
before=$(wc -l <"$OUT/load-codes")
log "docker kill $(node_of "$VICTIM") (api), $before predictions so far"
docker kill "$VICTIM" >/dev/null
check "the killed replica is down" wait_until 10 down "$VICTIM"
sleep 10 # HAProxy sees it gone (DNS every 2 s, checks every 1 s) while the load runs
stop_load
total=$(wc -l <"$OUT/load-codes")
non2xx=$(grep -cv '^2' "$OUT/load-codes")
slowest=$(sort -k2 -g "$OUT/load-codes" | tail -n 1 | cut -d' ' -f2)
log "predictions through HAProxy: $total ($((total - before)) after the kill), $non2xx not 2xx, slowest ${slowest} s"
check "every prediction through HAProxy answered 2xx ($non2xx of $total not)" test "$non2xx" = 0
check "predictions kept coming after the kill ($((total - before)))" test $((total - before)) -ge 20
check "the killed replica stayed down (no restart)" down "$VICTIM"

wait_until 300 job_ended "$job_b"
check "job $job_b succeeded" test "$(job_field "$job_b" status)" = succeeded
check "job $job_b trained by the trainer, one claim" \
    test "$(job_field "$job_b" worker) $(job_field "$job_b" attempts)" = "$(node_of "$TRAINER") 1"
model_b=$(job_field "$job_b" model_id)
check "model $model_b predicted by the replica left ($(node_of "$SURVIVOR"))" \
    predicts direct "$SURVIVOR" "$model_b"
check "model $model_b predicted through HAProxy" predicts "$model_b"
check "the api replica left trained nothing (mlpd_train_samples_total)" \
    test "$(counter "$SURVIVOR" mlpd_train_samples_total)" = 0
log "job $job_b: $(job_field "$job_b" started_at) to $(job_field "$job_b" finished_at)"

# ---- kill the trainer mid-job, start it again ----
job_c=$(submit "$LONG_JOB")
[ -n "$job_c" ] || abort "POST /train of the job to interrupt"
# Polled 4 times a second: an epoch takes about 0.25 s.
for _ in $(seq 1 480); do epoch_at_least "$job_c" 2 && break; sleep 0.25; done
at_kill=$(job_field "$job_c" epoch)
docker kill "$TRAINER" >/dev/null
log "docker kill of the trainer while job $job_c was at epoch $at_kill (last poll)"
check "killed mid-job (epoch $at_kill of $LONG_EPOCHS)" \
    test "${at_kill:-0}" -ge 1 -a "${at_kill:-$LONG_EPOCHS}" -lt $((LONG_EPOCHS - 2))
wait_until 10 down "$TRAINER"
t0=$SECONDS
docker start "$TRAINER" >/dev/null
check "the trainer is back" wait_until 60 ready_direct "$TRAINER"
wait_until 300 job_ended "$job_c"
log "job $job_c ended $((SECONDS - t0)) s after the trainer's start"
check "job $job_c succeeded after the kill" test "$(job_field "$job_c" status)" = succeeded
check "job $job_c claimed twice, by the trainer" \
    test "$(job_field "$job_c" worker) $(job_field "$job_c" attempts)" = "$(node_of "$TRAINER") 2"
resumed=$(docker logs "$TRAINER" 2>&1 | sed -n "s/.*job $job_c resumes after epoch \([0-9]*\).*/\1/p" | tail -n 1)
log "the trainer resumed job $job_c after epoch ${resumed:-?}"
check "resumed from its checkpoint, not from epoch 1 (after epoch ${resumed:-none})" \
    test "${resumed:-0}" -ge 1
check "each epoch's loss recorded once (epochs, distinct: $(loss_epochs "$job_c"))" \
    test "$(loss_epochs "$job_c")" = "$LONG_EPOCHS $LONG_EPOCHS"
model_c=$(job_field "$job_c" model_id)
http GET "/models/$model_b/file" >/dev/null && cp "$OUT/body" "$OUT/model-b.bin"
http GET "/models/$model_c/file" >/dev/null && cp "$OUT/body" "$OUT/model-c.bin"
check "resumed run's weights equal the uninterrupted run's (model bytes)" \
    cmp -s "$OUT/model-b.bin" "$OUT/model-c.bin"
check "model $model_c predicted through HAProxy" predicts "$model_c"

finish
