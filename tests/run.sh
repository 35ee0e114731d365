#!/usr/bin/env bash
# Runs every test suite and ends with one line "N passed, N failed".
#
# Suites (set SUITES to a space-separated subset to run fewer):
#   format       every C file against .clang-format (make format-check)
#   unit         $BUILD/tests/unit/test_*         (cmocka)
#   integration  $BUILD/tests/integration/test_*  (cmocka + libcurl, real daemon), then
#                tests/postgresql/test_*.sh (throwaway PostgreSQL clusters, tools/pg-tmp.sh)
#                and tests/contract/check-responses.mjs over every answer they got
#                (api/openapi.yaml, ajv) and Redocly's lint of the document
#   browser      tests/browser/*.test.mjs           (node + playwright-core + chromium)
# and, when named in SUITES or MLPD_EXTRA_SUITES (CI names them all):
#   sanitize     unit + integration again, built with ASan+UBSan (build/san)
#   fuzz         replay every fuzz corpus, then fuzz each target briefly (make fuzz-smoke)
#   valgrind     the daemon under valgrind through train/predict/upload/cancel/shutdown
#   docker       build the image, run it with compose, walk through it (tools/docker-test.sh)
#   docker-fleet build the fleet's images, run it with compose (2 api replicas), kill an
#                api replica and the trainer mid-job (tools/docker-fleet-test.sh)
# A cmocka binary's counts come from its "[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s)" lines; a node suite prints "N passed, N failed".
# A program that dies without a summary counts as one failure.
set -u
BUILD=${BUILD:-build}
SUITES=${SUITES:-format unit integration browser ${MLPD_EXTRA_SUITES:-}}
OUT=${TEST_OUT:-$BUILD/test-output}
export MLPD_BIN=${MLPD_BIN:-$PWD/$BUILD/mlpd}
mkdir -p "$OUT"
passed=0; failed=0; failed_names=()

count_from() { # file -> "passed failed" or empty
    local f=$1 p fl
    p=$(grep -Eo '^\[  PASSED  \] [0-9]+ test' "$f" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
    fl=$(grep -Eo '^\[  FAILED  \] [0-9]+ test' "$f" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
    if grep -Eq '^\[==========\] .*test\(s\) run' "$f"; then echo "$p $fl"; return; fi
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$f" | tail -n 1)
    if [ -n "$line" ]; then echo "$line" | awk '{print $1, $3}'; fi
}

run_one() { # name, command...
    local name=$1; shift
    local log="$OUT/$(echo "$name" | tr '/' '_').log"
    local start=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$? counts p f
    counts=$(count_from "$log")
    if [ -z "$counts" ]; then p=0; f=1; else read -r p f <<<"$counts"; fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '%-44s %4d passed %3d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - start))
    if [ "$f" -ne 0 ]; then
        failed_names+=("$name")
        echo "---- $log (last 40 lines) ----"; tail -n 40 "$log"; echo "----"
    fi
}

run_step() { # name, command...: a preparation step (a build); it counts only when it fails
    local name=$1; shift
    local log="$OUT/$(echo "$name" | tr '/' '_').log"
    if "$@" >"$log" 2>&1; then
        printf '%-44s ok\n' "$name"
    else
        failed=$((failed + 1)); failed_names+=("$name")
        echo "---- $log (last 40 lines) ----"; tail -n 40 "$log"; echo "----"
    fi
}

# The integration suite again with every daemon on PostgreSQL: a throwaway
# cluster (tools/pg-tmp.sh) for the pass, a database per daemon in it
# (tests/integration/common/daemon.c reads MLPD_TEST_PG_URI). Three
# programs test what only a SQLite file has, and run in the SQLite pass only:
# test_crash_kill reads the database file after SIGKILLs, test_full_disk
# fills the file system under it, test_store_locked holds the file's write
# lock from another process (PostgreSQL's server owns all three concerns).
PG_ONLY_SQLITE="test_crash_kill test_full_disk test_store_locked"
integration_pg() {
    local dir uri t
    dir=$(mktemp -u /tmp/mlpd-pgpass-XXXXXX)
    if ! uri=$(bash tools/pg-tmp.sh start "$dir" 2>"$OUT/pg-start.log" | tail -n 1) || [ -z "$uri" ]; then
        failed=$((failed + 1)); failed_names+=("integration-pg/cluster")
        echo "---- $OUT/pg-start.log ----"; cat "$OUT/pg-start.log"; echo "----"
        return
    fi
    for t in "$BUILD"/tests/integration/test_*; do
        [ -x "$t" ] || continue
        case " $PG_ONLY_SQLITE " in *" $(basename "$t") "*) continue ;; esac
        run_one "integration-pg/$(basename "$t")" env MLPD_TEST_PG_URI="$uri" "$t"
    done
    bash tools/pg-tmp.sh stop "$dir"
}

for suite in $SUITES; do
    case $suite in
    format)
        run_one "format/clang-format" make --no-print-directory format-check
        run_one "format/layers" make --no-print-directory layers-check ;;
    unit|integration)
        # Every exchange of the integration suite is recorded (contract_log.h)
        # and validated against api/openapi.yaml afterwards.
        contract_log="$(cd "$OUT" && pwd)/contract-responses.jsonl"
        [ "$suite" = integration ] && rm -f "$contract_log"
        [ "$suite" = integration ] && export MLPD_CONTRACT_LOG="$contract_log"
        for t in "$BUILD"/tests/$suite/test_*; do
            [ -x "$t" ] || continue
            run_one "$suite/$(basename "$t")" "$t"
        done
        if [ "$suite" = integration ]; then
            for t in tests/postgresql/test_*.sh; do
                run_one "postgresql/$(basename "$t")" bash "$t"
            done
            integration_pg
            unset MLPD_CONTRACT_LOG
            run_one "contract/openapi-responses" node tests/contract/check-responses.mjs "$contract_log"
            run_one "contract/openapi-lint" node tests/contract/lint-openapi.mjs
        fi ;;
    browser)
        for t in tests/browser/*.test.mjs; do
            [ -f "$t" ] || continue
            run_one "browser/$(basename "$t")" node "$t"
        done ;;
    sanitize)
        run_step "sanitize/build" make -j2 --no-print-directory SANITIZE=1 sanitize-build
        run_one "sanitize/unit+integration" env SUITES="unit integration" BUILD=build/san \
            MLPD_BIN="$PWD/build/san/mlpd" TEST_OUT=build/san/test-output bash tests/run.sh ;;
    fuzz)
        run_one "fuzz/smoke" make --no-print-directory fuzz-smoke ;;
    valgrind)
        run_one "valgrind/daemon" env BUILD="$BUILD" MLPD_BIN="$MLPD_BIN" bash tools/valgrind-daemon.sh ;;
    docker)
        run_one "docker/compose-walkthrough" bash tools/docker-test.sh ;;
    docker-fleet)
        run_one "docker/fleet-walkthrough" bash tools/docker-fleet-test.sh ;;
    *)
        echo "unknown suite '$suite'"; failed=$((failed + 1)) ;;
    esac
done

[ ${#failed_names[@]} -eq 0 ] || echo "failed suites: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
