#!/usr/bin/env bash
# Bench sections 1b and 4, on one daemon (run right after sections 1 and 2 of
# run.sh, so that the job and `mlpd train` are measured minutes apart at most):
#  1b. training through a job: POST /train with the reference recipe on
#      BENCH_DATA (BENCH_EPOCHS epochs, default 2), alone; its samples/s beside
#      the `mlpd train` figure of section 1 ($OUT/train.txt, when run.sh made it).
#  4.  the same job again while wrk posts predictions at 16 connections:
#      prediction req/s and p99 against the same load without training, and
#      the job's training samples/s against the job alone.
# Training samples/s under load is measured over the wrk window from the job's
# live progress (GET /jobs/{id}: progress x epochs x samples), so that time
# the job spends after wrk stops does not count; the job's own
# samples_per_sec (its last epoch) is printed too.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
bench_init jobs

EPOCHS=${BENCH_EPOCHS:-2}
LOAD_CONNS=16
RECIPE="{\"dataset\":\"$TRAIN_SET\",\"epochs\":$EPOCHS}"
rm -f "$OUT"/jobs_*.txt
daemon_start || { echo "-- 1b/4: mlpd serve failed to start: skipped"; exit 0; }
n_train=$(curl -s --max-time 5 "$DAEMON_URL/datasets/$TRAIN_SET" | json_field n_train)

# now: seconds since the epoch with nanoseconds.
now() { date +%s.%N; }
# job_samples ID: "status samples_done" from the job's live progress.
job_samples() {
    curl -s --max-time 5 "$DAEMON_URL/jobs/$1" | $PY -c 'import json, sys
j = json.load(sys.stdin)
print(j["status"], "%.0f" % (j["progress"] * j["epochs"] * float(sys.argv[1])))' "$n_train"
}
# wait_running ID: until the job has trained its first batch (data set loaded).
wait_running() {
    local i st seen
    for ((i = 0; i < 1200; i++)); do
        read -r st seen < <(job_samples "$1")
        case $st in
        running) [ "${seen:-0}" -gt 0 ] && return 0 ;;
        queued) ;;
        *) return 1 ;;
        esac
        sleep 0.1
    done
    return 1
}

# ---- 1b: a job alone ------------------------------------------------------------
alone_json=$(train_job "$RECIPE")
alone_id=$(json_field id <<<"$alone_json")
alone_sps=$(json_field samples_per_sec <<<"$alone_json" | awk 'NF { printf "%.1f", $1 }')
alone_best=$(best_epoch_sps "$alone_id" "$n_train")
alone_train_s=$(curl -s --max-time 5 "$DAEMON_URL/jobs/$alone_id/metrics" | $PY -c 'import json, sys
try:
    print("%.2f" % sum(m["value"] for m in json.load(sys.stdin)["metrics"] if m["key"] == "seconds"))
except Exception:
    print("")')
alone_mean=$(awk -v n="$n_train" -v e="$EPOCHS" -v s="$alone_train_s" \
    'BEGIN { if (s > 0) printf "%.1f", n * e / s }')
cli_sps=$(grep -Eo '[0-9.]+ samples/s' "$OUT/train.txt" 2>/dev/null | awk '{print $1}' | sort -n | tail -n 1)

echo "-- 1b. training through a job on the daemon: reference recipe, $EPOCHS epochs on $TRAIN_SET ($n_train samples)"
printf '%-44s %12s\n' "job status" "$(json_field status <<<"$alone_json")"
printf '%-44s %12s\n' "job samples/s, best epoch" "${alone_best:-n/a}"
printf '%-44s %12s\n' "job samples/s, mean over epochs" "${alone_mean:-n/a}"
printf '%-44s %12s\n' "job samples_per_sec (GET /jobs, last epoch)" "${alone_sps:-n/a}"
printf '%-44s %12s\n' "mlpd train samples/s, best epoch (sect. 1)" "${cli_sps:-n/a}"
printf '%-44s %12s\n' "ratio job / mlpd train (best epochs)" "$(ratio "$alone_best" "$cli_sps")"
# The best PyTorch configuration of section 1 (same run), when it ran.
torch_best=$(cat "$OUT"/torch_train_*.txt 2>/dev/null | grep -E '^torch_samples_per_sec=' | cut -d= -f2 |
    sort -n | tail -n 1)
printf '%-44s %12s\n' "pytorch best samples/s (sect. 1)" "${torch_best:-n/a}"
printf '%-44s %12s\n' "ratio job / pytorch best" "$(ratio "$alone_best" "$torch_best")"

# ---- 4: predictions while the job trains ------------------------------------------
echo
echo "-- 4. predictions (wrk, $LOAD_CONNS connections) while the same job trains"
model_id=$(quick_model)
export BENCH_BODY=$BENCH_TMP/body.json
predict_body "$BENCH_BODY"
if [ -z "$model_id" ]; then echo "  no model for predictions: skipped"; exit 0; fi
wrk_post "$DAEMON_URL/predict" "$LOAD_CONNS" 1 "$BENCH_TMP/warm.txt"
wrk_post "$DAEMON_URL/predict" "$LOAD_CONNS" "$WRK_SECONDS" "$OUT/jobs_predict_alone.txt"

# The load lasts as long as the job took alone: the job, slower under load,
# is still running when wrk stops, so the whole window is "while training".
window=$(awk -v s="$alone_train_s" -v w="$WRK_SECONDS" 'BEGIN { printf "%d", (s > w ? s : w) }')
load_id=$(api_post /train "$RECIPE" | json_field id)
if [ -z "$load_id" ] || ! wait_running "$load_id"; then
    echo "  the training job did not start: skipped"; exit 0
fi
read -r _ s0 < <(job_samples "$load_id"); t0=$(now)
wrk_post "$DAEMON_URL/predict" "$LOAD_CONNS" "$window" "$OUT/jobs_predict_training.txt"
read -r st1 s1 < <(job_samples "$load_id"); t1=$(now)
load_sps=$(awk -v a="$s0" -v b="$s1" -v t0="$t0" -v t1="$t1" \
    'BEGIN { if (t1 > t0 && b > a) printf "%.1f", (b - a) / (t1 - t0) }')
[ "$st1" = running ] || load_sps="$load_sps (job ended inside the window)"
load_json=$(job_wait "$load_id")
load_job_sps=$(json_field samples_per_sec <<<"$load_json" | awk 'NF { printf "%.1f", $1 }')

A=$OUT/jobs_predict_alone.txt; B=$OUT/jobs_predict_training.txt
printf '%-36s %12s %12s %8s\n' "" "alone" "training" ratio
printf '%-36s %12s %12s %8s\n' "predictions req/s" "$(val rps "$A")" "$(val rps "$B")" \
    "$(ratio "$(val rps "$B")" "$(val rps "$A")")"
printf '%-36s %12s %12s %8s\n' "predictions p50 ms" "$(val p50_ms "$A")" "$(val p50_ms "$B")" \
    "$(ratio "$(val p50_ms "$B")" "$(val p50_ms "$A")")"
printf '%-36s %12s %12s %8s\n' "predictions p99 ms" "$(val p99_ms "$A")" "$(val p99_ms "$B")" \
    "$(ratio "$(val p99_ms "$B")" "$(val p99_ms "$A")")"
printf '%-36s %12s %12s\n' "prediction errors" "$(val errors "$A")" "$(val errors "$B")"
printf '%-36s %12s %12s %8s\n' "training samples/s (${window}s window)" "${alone_mean:-n/a}" \
    "${load_sps:-n/a}" "$(ratio "${load_sps%% *}" "$alone_mean")"
printf '%-36s %12s %12s %8s\n' "job samples_per_sec (last epoch)" "${alone_sps:-n/a}" \
    "${load_job_sps:-n/a}" "$(ratio "$load_job_sps" "$alone_sps")"
