#!/usr/bin/env bash
# Runs the libFuzzer targets built by tests/fuzz/fuzz.mk (`make fuzz-build`).
#
#   bash tests/fuzz/run.sh [name...]     names as in fuzz_<name>; default: every built target
#
# For each target, two checks, each printed on one line:
#   replay  every file of its seed corpus, run once: the regression tests
#           (seeds, and inputs of crashes since fixed)
#   fuzz    FUZZ_SECONDS of fuzzing (0 skips it), starting from the seeds and
#           what earlier runs found; it reports executions, the coverage at
#           the start and at the end (edges "cov", features "ft") and the new
#           inputs kept
# and at the end one line "N passed, N failed" (the format tests/run.sh reads).
#
# Environment:
#   FUZZ_BUILD      where the binaries are (build/fuzz); findings go to
#                   $FUZZ_BUILD/corpus/<name>/ (new inputs), crashes to
#                   $FUZZ_BUILD/crashes/, logs to $FUZZ_BUILD/logs/
#   FUZZ_SECONDS    fuzzing time per target (60)
#   FUZZ_SUMMARY    1: end with the totals (executions, new edges, features and
#                   inputs over every target): `make fuzz-long` sets it
#   FUZZ_RSS_MB     memory limit per target, also the largest single malloc (2048)
#   REPLAY_CRASHES  1: also replay tests/fuzz/crashes/<name>/* (known, unfixed
#                   crashes: each should fail until its bug is fixed)
# A found crash's input is named in the output; once the bug is fixed, copy
# it into tests/fuzz/corpus/<name>/ so replay keeps it fixed.
set -u
cd "$(dirname "$0")/../.."
FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
# The engine's matrix products must not start a thread pool per target.
export OPENBLAS_NUM_THREADS=1
LOGS=$FUZZ_BUILD/logs
mkdir -p "$LOGS" "$FUZZ_BUILD/crashes"
passed=0; failed=0
total_execs=0; total_cov=0; total_ft=0; total_inputs=0

# Seeds: tests/fuzz/corpus/<name>/, or tests/fuzz/corpus/fuzz_<name>/.
corpus_of() {
    local name=$1
    if [ -d "tests/fuzz/corpus/$name" ]; then echo "tests/fuzz/corpus/$name"
    elif [ -d "tests/fuzz/corpus/fuzz_$name" ]; then echo "tests/fuzz/corpus/fuzz_$name"
    fi
}

result() { # name, check, ok(0/1), detail
    if [ "$3" -eq 0 ]; then passed=$((passed + 1)); r=passed; else failed=$((failed + 1)); r=FAILED; fi
    printf '%-22s %-7s %-6s %s\n' "$1" "$2" "$r" "$4"
}

# Run `bin` once on each file in the listed folders; expect = 0 (no crash) or 1 (a crash).
replay() { # name, bin, label, expect, dir
    local name=$1 bin=$2 label=$3 expect=$4 dir=$5 log files=() rc
    log="$LOGS/$name.$label.log"
    [ -n "$dir" ] && [ -d "$dir" ] && mapfile -t files < <(find "$dir" -type f | sort)
    if [ ${#files[@]} -eq 0 ]; then
        [ "$label" = replay ] && result "$name" "$label" 1 "no seed files in tests/fuzz/corpus/$name/"
        return
    fi
    if [ "$expect" -eq 0 ]; then
        "$bin" -rss_limit_mb="$FUZZ_RSS_MB" -timeout=25 "${files[@]}" >"$log" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
            result "$name" "$label" 0 "${#files[@]} inputs"
        else
            local bad
            bad=$(grep '^Running: ' "$log" | tail -n 1 | cut -d' ' -f2-)
            result "$name" "$label" 1 "crashed on $bad (log: $log)"
            grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 5
        fi
        return
    fi
    # Known crashes: each input must still fail on its own (a fixed one
    # belongs in the corpus instead).
    local f still=0
    for f in "${files[@]}"; do
        "$bin" -rss_limit_mb="$FUZZ_RSS_MB" -timeout=25 "$f" >>"$log" 2>&1 && continue
        still=$((still + 1))
        echo "  still crashes: $f"
    done
    result "$name" "$label" 0 "$still of ${#files[@]} known crashes still crash"
}

fuzz() { # name, bin, seeds
    local name=$1 bin=$2 seeds=$3 log="$LOGS/$name.fuzz.log" work="$FUZZ_BUILD/corpus/$name"
    mkdir -p "$work"
    local before
    before=$(find "$work" -type f | wc -l)
    "$bin" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb="$FUZZ_RSS_MB" -timeout=25 \
        -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/crashes/$name-" \
        "$work" ${seeds:+"$seeds"} >"$log" 2>&1
    local rc=$? execs rate cov0 ft0 cov1 ft1 inputs
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
    rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
    # New coverage: edges (cov) and features (ft) once the corpus is loaded
    # (INITED) against the last report; new inputs: the working corpus grew.
    read -r cov0 ft0 < <(grep -Eo 'INITED cov: [0-9]+ ft: [0-9]+' "$log" | head -n 1 |
                         awk '{print $3, $5}')
    read -r cov1 ft1 < <(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 | awk '{print $2, $4}')
    inputs=$(( $(find "$work" -type f | wc -l) - before ))
    if [ $rc -eq 0 ]; then
        result "$name" fuzz 0 "${FUZZ_SECONDS}s: ${execs:-?} execs, ${rate:-?}/s, cov ${cov0:-?} -> ${cov1:-?} (+$(( ${cov1:-0} - ${cov0:-0} ))), ft ${ft0:-?} -> ${ft1:-?} (+$(( ${ft1:-0} - ${ft0:-0} ))), corpus +$inputs new inputs"
        total_execs=$(( total_execs + ${execs:-0} ))
        total_cov=$(( total_cov + ${cov1:-0} - ${cov0:-0} ))
        total_ft=$(( total_ft + ${ft1:-0} - ${ft0:-0} ))
        total_inputs=$(( total_inputs + inputs ))
    else
        local art
        art=$(grep -Eo "Test unit written to [^ ]+" "$log" | tail -n 1 | cut -d' ' -f5)
        result "$name" fuzz 1 "crash input: ${art:-?} (log: $log)"
        grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -n 5
    fi
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for bin in "$FUZZ_BUILD"/fuzz_*; do
        [ -x "$bin" ] && [ -f "$bin" ] && names+=("$(basename "$bin" | sed 's/^fuzz_//')")
    done
fi
[ ${#names[@]} -eq 0 ] && echo "no fuzz targets in $FUZZ_BUILD (run make fuzz-build)"

for name in "${names[@]}"; do
    bin=$FUZZ_BUILD/fuzz_$name
    if [ ! -x "$bin" ]; then result "$name" build 1 "$bin not built"; continue; fi
    seeds=$(corpus_of "$name")
    replay "$name" "$bin" replay 0 "$seeds"
    if [ "${REPLAY_CRASHES:-0}" = 1 ]; then
        replay "$name" "$bin" crashes 1 "tests/fuzz/crashes/$name"
    fi
    if [ "$FUZZ_SECONDS" -gt 0 ]; then fuzz "$name" "$bin" "$seeds"; fi
done

if [ "${FUZZ_SUMMARY:-0}" = 1 ]; then
    echo "fuzz totals: ${#names[@]} targets x ${FUZZ_SECONDS}s: $total_execs execs;" \
         "new coverage +$total_cov edges, +$total_ft features, +$total_inputs inputs"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
