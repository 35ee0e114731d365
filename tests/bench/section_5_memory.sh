#!/usr/bin/env bash
# Bench section 5: the daemon's memory (resident set, /proc/PID/status VmRSS
# and VmHWM, its kernel-kept peak) at three moments of one daemon's life:
#   idle       just ready, no model loaded
#   serving    one 784-512-256-10 model uploaded (POST /models) and used by
#              BENCH_WRK_SECONDS of predictions at 16 connections
#   training   the reference recipe on BENCH_DATA (BENCH_MEM_EPOCHS epochs,
#              default 1: the peak does not grow with epochs), peak during the job
# The model is uploaded rather than trained in the daemon so that the
# "serving" figure holds no memory left over from a training run.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
bench_init memory

EPOCHS=${BENCH_MEM_EPOCHS:-1}
echo "-- 5. memory of mlpd serve (VmRSS now / VmHWM peak so far, MiB)"
# A model file of the reference shape: section 1's, else a quick one.
MODEL_FILE=$OUT/model.bin
if [ ! -s "$MODEL_FILE" ]; then
    MODEL_FILE=$BENCH_TMP/model.mlp
    "$MLPD" train --data "$DATA_ROOT/mnist-digits" --epochs 1 --out "$MODEL_FILE" >/dev/null 2>&1
fi
daemon_start || { echo "  mlpd serve failed to start: skipped"; exit 0; }
sleep 0.5
idle_rss=$(rss_kib "$DAEMON_PID" VmRSS); idle_hwm=$(rss_kib "$DAEMON_PID" VmHWM)

model_id=$(curl -s --max-time 30 -H 'Content-Type: application/octet-stream' \
    --data-binary "@$MODEL_FILE" "$DAEMON_URL/models?name=bench" | json_field id)
export BENCH_BODY=$BENCH_TMP/body.json
predict_body "$BENCH_BODY"
serve_rss=; serve_hwm=; serve_errors=
if [ -n "$model_id" ]; then
    wrk_post "$DAEMON_URL/predict" 16 "$WRK_SECONDS" "$BENCH_TMP/wrk.txt"
    serve_errors=$(val errors "$BENCH_TMP/wrk.txt")
    serve_rss=$(rss_kib "$DAEMON_PID" VmRSS); serve_hwm=$(rss_kib "$DAEMON_PID" VmHWM)
fi

# Training: sample VmRSS while the job runs; VmHWM at the end is the exact peak.
job_id=$(api_post /train "{\"dataset\":\"$TRAIN_SET\",\"epochs\":$EPOCHS}" | json_field id)
max_rss=0; status=
if [ -n "$job_id" ]; then
    while :; do
        r=$(rss_kib "$DAEMON_PID" VmRSS)
        [ -n "$r" ] && [ "$r" -gt "$max_rss" ] && max_rss=$r
        status=$(curl -s --max-time 5 "$DAEMON_URL/jobs/$job_id" | json_field status)
        case $status in queued|running) sleep 0.2 ;; *) break ;; esac
    done
fi
train_hwm=$(rss_kib "$DAEMON_PID" VmHWM); after_rss=$(rss_kib "$DAEMON_PID" VmRSS)
daemon_stop
cli_peak=$(val peak_rss_kib "$OUT/train.txt")

printf '%-52s %10s %10s\n' "" VmRSS VmHWM
printf '%-52s %10s %10s\n' "idle (ready, no model)" "$(mib "$idle_rss")" "$(mib "$idle_hwm")"
printf '%-52s %10s %10s\n' "serving one model, after ${WRK_SECONDS}s of predictions" \
    "$(mib "$serve_rss")" "$(mib "$serve_hwm")"
[ "$status" = succeeded ] || echo "  (the training job ended $status)"
printf '%-52s %10s %10s\n' "peak while training $TRAIN_SET ($EPOCHS epoch)" \
    "$(mib "$max_rss")" "$(mib "$train_hwm")"
printf '%-52s %10s\n' "after the job ended" "$(mib "$after_rss")"
printf '%-52s %10s\n' "mlpd train, same recipe, peak (section 1)" "$(mib "$cli_peak")"
[ -n "$serve_errors" ] && [ "$serve_errors" != 0 ] && echo "  ($serve_errors prediction errors)"
exit 0
