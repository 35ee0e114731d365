#!/usr/bin/env bash
# screenshots-before-after.sh [OLD_COMMIT] - before/after screenshots of the
# dashboard: OLD_COMMIT (default 5a30d0c, before the issue-15 dashboard work)
# is exported with git archive into a temporary folder and built there; the
# current tree is built in place. tools/screenshots-before-after.mjs then
# starts each daemon on a free 127.0.0.1 port with a temporary database,
# trains one short job on each and saves the same views at 1280 and 375 px
# as docs/screenshots/{before,after}-<view>-<width>.png; this script writes
# docs/screenshots/README.md listing the pairs and their commits.
# Needs data/mnist-digits (make data), node_modules and /usr/bin/chromium.
set -euo pipefail
old=${1:-5a30d0c}
repo=$(git rev-parse --show-toplevel)
cd "$repo"
old_id=$(git rev-parse --short "$old^{commit}")
new_id=$(git rev-parse --short HEAD)
dirty=$(git status --porcelain --untracked-files=no | grep -q . && echo " (with uncommitted changes)" || true)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/old"
git archive "$old_id" | tar -x -C "$tmp/old"
ln -s "$repo/node_modules" "$tmp/old/node_modules"
timeout 900 make -C "$tmp/old" -j2 all >"$tmp/old-build.log" 2>&1 || { tail -20 "$tmp/old-build.log"; exit 1; }
timeout 900 make -j2 all >/dev/null
out=docs/screenshots
rm -f "$out"/before-*.png "$out"/after-*.png
timeout 600 node tools/screenshots-before-after.mjs "$out" before="$tmp/old" after="$repo"

{
  echo "# Dashboard screenshots: before and after issue 15"
  echo
  echo "Made by \`tools/screenshots-before-after.sh $old\`: before = commit $old_id,"
  echo "after = commit $new_id$dirty. Each daemon ran with a fresh database and one"
  echo "finished job (mnist-digits, hidden 32, 2 epochs, batch 32) plus a slower job"
  echo "pictured while its first epoch ran (then cancelled). Viewport PNGs, 1280x900"
  echo "and 375x800, except the form: whole page, as its errors sit far apart."
  echo
  echo "| View | Width | Before ($old_id) | After ($new_id) |"
  echo "|---|---|---|---|"
  while read -r view what; do
    for w in 1280 375; do
      echo "| $what | $w px | [before-$view-$w.png](before-$view-$w.png) | [after-$view-$w.png](after-$view-$w.png) |"
    done
  done <<'VIEWS'
form-errors new-job form after submitting epochs -1 and learning rate 0
job-running job page during the first epoch of a running job
job job page of the finished 2-epoch job
jobs jobs list
model model page of the finished job's model
datasets datasets page
VIEWS
} >"$out/README.md"
echo "wrote $out/README.md"
