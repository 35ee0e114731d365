#!/usr/bin/env bash
# ab_section.sh BEFORE [AFTER] - one bench section for two commits, in turn.
#
# Builds `mlpd` of each commit (git archive into a temp dir; AFTER defaults to
# HEAD), then runs the section ROUNDS times (default 2) for each binary,
# alternating, against this tree's peers: before/after figures measured in the
# same minutes. The load average is printed with each run: figures taken while
# the machine is busy are noisy, so compare medians over rounds.
#
#   tests/bench/ab_section.sh b0a96a9            # HTTP, section 3
#   SECTION=7 ROUNDS=3 tests/bench/ab_section.sh b0a96a9 main
#
# Environment: SECTION (default 3), ROUNDS (default 2), BUILD (this tree's
# build dir: the peers), BENCH_WRK_SECONDS (as for `make bench`). Both daemons
# run with this tree's migrations/, web/ and api/ (the section's own
# settings): commits with different migrations are not comparable this way.
set -u
cd "$(dirname "$0")/../.." || exit 1
declare -A rev=([before]=${1:?usage: ab_section.sh BEFORE [AFTER]} [after]=${2:-HEAD})
SECTION=${SECTION:-3}
ROUNDS=${ROUNDS:-2}
BUILD=${BUILD:-build}
scripts=(tests/bench/section_"${SECTION}"_*.sh)
script=${scripts[0]}
[ -f "$script" ] || { echo "no section $SECTION in tests/bench/"; exit 2; }
bins=()
for src in tests/bench/*.c; do bins+=("$BUILD/tests/bench/$(basename "$src" .c)"); done
make -s -j2 BUILD="$BUILD" "${bins[@]}" >/dev/null || { echo "cannot build the peers"; exit 1; }
tmp=$(mktemp -d /tmp/mlpd-ab.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for side in before after; do
    r=${rev[$side]}
    mkdir -p "$tmp/$side"
    git archive "$r" | tar -x -C "$tmp/$side" || { echo "cannot export $r"; exit 1; }
    make -s -C "$tmp/$side" -j2 build/mlpd >"$tmp/$side.log" 2>&1 ||
        { echo "cannot build $r (log $tmp/$side.log)"; tail -n 5 "$tmp/$side.log"; exit 1; }
    echo "$side: $(git rev-parse --short "$r") $(git log -1 --format=%s "$r" | cut -c1-70)"
done
for ((round = 1; round <= ROUNDS; round++)); do
    for side in before after; do
        echo "== round $round, $side ($(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg))"
        BUILD=$BUILD MLPD_BIN=$tmp/$side/build/mlpd bash "$script"
    done
done
