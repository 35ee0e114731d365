#!/usr/bin/env bash
# Bench section 4: the same prediction through mlpd's three protocols. One
# 784-value vector per request, keep-alive connections (wrk) at 1, 16 and 64
# connections, BENCH_WRK_SECONDS each, against one `mlpd serve` and one model
# (784-512-256-10, trained through it; registered as mnist-digits):
#   predict      POST /predict {"input": [...]}                       (section 3's body)
#   v2-json      POST /v2/models/mnist-digits/infer, JSON tensors in and out
#   v2-binary    the same with the binary tensor data extension both ways:
#                a JSON header, 3136 bytes of float32 in; 40 + 8 bytes out
# Prints predictions/s, p50, p99 and errors per run, then v2's ratios to
# /predict (issue 14's targets: binary >= 1.0, JSON >= 0.85).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/bench/lib.sh
bench_init protocols

CONNS=(1 16 64)
VARIANTS=(predict v2-json v2-binary)
echo "-- 4. one prediction through /predict, v2 JSON and v2 binary, keep-alive, wrk ${WRK_SECONDS}s per run"

# bodies DIR: predict.json, v2.json, v2.bin and v2.hl (the binary body's JSON length).
bodies() {
    $PY - "$DATA_ROOT/mnist-digits/t10k-images-idx3-ubyte" "$1" <<'PYEOF'
import json, random, struct, sys
try:
    with open(sys.argv[1], "rb") as f:
        f.seek(16)
        x = [round(b / 255.0, 4) for b in f.read(784)]
    assert len(x) == 784
except Exception:
    random.seed(1)
    x = [round(random.random(), 4) for _ in range(784)]
d = sys.argv[2]
compact = dict(separators=(",", ":"))
open(d + "/predict.json", "w").write(json.dumps({"input": x}, **compact))
t = {"name": "input", "shape": [1, 784], "datatype": "FP32"}
open(d + "/v2.json", "w").write(json.dumps({"inputs": [dict(t, data=x)]}, **compact))
head = json.dumps({"inputs": [dict(t, parameters={"binary_data_size": 3136})],
                   "parameters": {"binary_data_output": True}}, **compact).encode()
open(d + "/v2.bin", "wb").write(head + struct.pack("<784f", *x))
open(d + "/v2.hl", "w").write(str(len(head)))
PYEOF
}

# The wrk script: POST $BENCH_BODY with $BENCH_CTYPE (and, when set,
# Inference-Header-Content-Length: $BENCH_HL); figures as key=value lines.
write_script() {
    cat >"$1" <<'LUAEOF'
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_CTYPE")
local hl = os.getenv("BENCH_HL")
if hl and hl ~= "" then wrk.headers["Inference-Header-Content-Length"] = hl end

function done(summary, latency, requests)
    local e = summary.errors
    local secs = summary.duration / 1e6
    io.write(string.format("requests=%d\nrps=%.1f\np50_ms=%.3f\np99_ms=%.3f\nerrors=%d\n",
        summary.requests, summary.requests / secs, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, e.connect + e.read + e.write + e.status + e.timeout))
end
LUAEOF
}

# run VARIANT CONNS SECONDS OUTFILE
run() {
    local url body ctype=application/json hl="" threads=2
    case $1 in
    predict) url=$DAEMON_URL/predict; body=$BENCH_TMP/predict.json ;;
    v2-json) url=$DAEMON_URL/v2/models/mnist-digits/infer; body=$BENCH_TMP/v2.json ;;
    v2-binary) url=$DAEMON_URL/v2/models/mnist-digits/infer; body=$BENCH_TMP/v2.bin
        ctype=application/octet-stream; hl=$(cat "$BENCH_TMP/v2.hl") ;;
    esac
    command -v wrk >/dev/null || { echo "wrk is not installed (Debian package wrk)" >"$4"; return 1; }
    [ "$2" -lt 2 ] && threads=1
    BENCH_BODY=$body BENCH_CTYPE=$ctype BENCH_HL=$hl wrk -t "$threads" -c "$2" -d "${3}s" \
        --timeout 5s -s "$BENCH_TMP/post.lua" "$url" >"$4" 2>&1
}

daemon_start || { echo "  mlpd serve failed to start: section skipped"; exit 0; }
model_id=$(quick_model)
if [ -z "$model_id" ]; then echo "  training the model through mlpd failed: section skipped"; exit 0; fi
rm -f "$OUT"/proto_*.txt
bodies "$BENCH_TMP"
write_script "$BENCH_TMP/post.lua"
# Each variant answers 200 once before it is measured (a refused body would
# otherwise be measured as errors).
for v in "${VARIANTS[@]}"; do
    run "$v" 1 1 "$BENCH_TMP/check.txt"
    if [ "$(val errors "$BENCH_TMP/check.txt")" != 0 ]; then
        echo "  $v: requests fail ($(head -c 200 "$BENCH_TMP/check.txt")); its runs are n/a"; continue
    fi
    run "$v" 16 1 "$BENCH_TMP/warm.txt"
    for c in "${CONNS[@]}"; do run "$v" "$c" "$WRK_SECONDS" "$OUT/proto_${v}_c$c.txt"; done
done
daemon_stop

printf '%-12s %6s %16s %10s %10s %8s\n' protocol conns "predictions/s" "p50 ms" "p99 ms" errors
for v in "${VARIANTS[@]}"; do
    for c in "${CONNS[@]}"; do
        f=$OUT/proto_${v}_c$c.txt
        printf '%-12s %6s %16s %10s %10s %8s\n' "$v" "$c" "$(val rps "$f")" "$(val p50_ms "$f")" \
            "$(val p99_ms "$f")" "$(val errors "$f")"
    done
done
printf '%-12s %6s %18s %18s\n' ratios conns "v2-json/predict" "v2-binary/predict"
for c in "${CONNS[@]}"; do
    p=$(val rps "$OUT/proto_predict_c$c.txt")
    printf '%-12s %6s %18s %18s\n' "pred/s" "$c" "$(ratio "$(val rps "$OUT/proto_v2-json_c$c.txt")" "$p")" \
        "$(ratio "$(val rps "$OUT/proto_v2-binary_c$c.txt")" "$p")"
done
