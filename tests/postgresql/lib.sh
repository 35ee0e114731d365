# lib.sh - what the tests/postgresql/*.sh scripts share (sourced, not run):
# the check counter and its "ok"/"FAIL" lines, and the summary line
# "N passed, N failed" that tests/run.sh reads. The caller is at the
# repository's root.
passed=0; failed=0
MLPD_BIN=${MLPD_BIN:-$PWD/build/mlpd}
# check description command...: one test; the command's output is hidden
# unless PG_TEST_SHOW_FAILURE=1 (then a failing command runs again, shown).
check() {
    local what=$1; shift
    if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); echo "ok   $what"
    else
        failed=$((failed + 1)); echo "FAIL $what"
        [ "${PG_TEST_SHOW_FAILURE:-0}" = 1 ] && "$@" 2>&1 | tail -n 5
    fi
    return 0
}
# summary: the last line, and the exit status (0 when nothing failed).
summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
