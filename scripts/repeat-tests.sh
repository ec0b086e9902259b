#!/usr/bin/env bash
# The README's test command, run N times in a row on a fresh clone of this checkout's HEAD,
# quiet (one copy) or loaded (two clones at once, each with its own target dir).
# Stops at the first failing run and keeps its log. Not a CI step: it takes N times the suite.
#
#   scripts/repeat-tests.sh [N] [--loaded] [--dir DIR]
#
# Prints one line per run: clone, run number, pass/FAIL, seconds, tests passed and failed.
set -euo pipefail
n=10
copies=1
dir=${TMPDIR:-/tmp}/smartfolio-repeat
while [ $# -gt 0 ]; do
  case "$1" in
    --loaded) copies=2 ;;
    --dir) dir=$2; shift ;;
    [0-9]*) n=$1 ;;
    *) echo "repeat-tests: unknown argument '$1' (allowed: a count, --loaded, --dir DIR)" >&2; exit 2 ;;
  esac
  shift
done
src=$(cd "$(dirname "$0")/.." && pwd)
rev=$(git -C "$src" rev-parse HEAD)
mkdir -p "$dir"
# The clones see ../shared as the checkout does (the suite passes without it too).
[ -e "$dir/shared" ] || [ ! -d "$src/../shared" ] || ln -s "$(cd "$src/../shared" && pwd)" "$dir/shared"

loop() {
  local c=$1 repo="$dir/clone$1"
  rm -rf "$repo"
  git clone -q "$src" "$repo"
  git -C "$repo" checkout -q "$rev"
  (cd "$repo" && cargo test --workspace --no-run >"$dir/clone$c.build.log" 2>&1) ||
    { echo "clone$c: build failed, see $dir/clone$c.build.log"; return 1; }
  for i in $(seq 1 "$n"); do
    local log="$dir/clone$c.run$i.log" s e
    s=$(date +%s)
    if (cd "$repo" && cargo test --workspace >"$log" 2>&1); then
      e=$(date +%s)
      echo "clone$c run $i pass $((e - s))s $(awk '/^test result/ {p+=$4; f+=$6} END {print p" passed, "f" failed"}' "$log")"
    else
      e=$(date +%s)
      echo "clone$c run $i FAIL $((e - s))s, log: $log"
      grep -E '^test .* FAILED|^---- ' "$log" | head -20
      return 1
    fi
  done
}

pids=()
for c in $(seq 1 "$copies"); do
  loop "$c" &
  pids+=("$!")
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ "$status" = 0 ] && echo "all $((n * copies)) runs passed at $rev" || echo "a run failed at $rev"
exit "$status"
