#!/usr/bin/env bash
# Batch `medport segment` with reading/writing overlapped with inference (the default) against
# `--no-overlap` (read, network, write in a row), on raw PNG phantoms and the embedded model.
# Wall time of the whole batch, best of REPEATS, for 1 and 2 intra-op threads.
#
#   bench/bench_segment_overlap.sh [BUILD_DIR] [PATIENTS] [REPEATS]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
patients="${2:-6}"
repeats="${3:-3}"
medport="$build/medport"
[ -x "$medport" ] || { echo "need $medport" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$medport" phantom -o "$work/phantoms" --patients "$patients" --seed 99 > /dev/null
mkdir -p "$work/in"
for image in "$work"/phantoms/*/*_{2CH,4CH}_{ED,ES}.png; do
  name="$(basename "$image" .png)"
  cp "$image" "$work/in/${name}_0000.png"
done
"$medport" convert "$here/models/phantom2d" -o "$work/model.onnx" > /dev/null
cases="$(ls "$work/in" | wc -l)"
echo "# $cases cases; $medport segment $work/model.onnx $work/in -o OUT --spacing 0.66,0.82 --threads T [--no-overlap]"

best_of() {
  local best=""
  for _ in $(seq "$repeats"); do
    rm -rf "$work/out"
    local start end seconds
    start="$(date +%s.%N)"
    "$medport" segment "$work/model.onnx" "$work/in" -o "$work/out" --spacing 0.66,0.82 "$@" > /dev/null 2> "$work/log" ||
      { cat "$work/log" >&2; exit 1; }
    end="$(date +%s.%N)"
    seconds="$(echo "$end - $start" | bc)"
    if [ -z "$best" ] || [ "$(echo "$seconds < $best" | bc)" = 1 ]; then best="$seconds"; fi
  done
  echo "$best"
}

printf '%-8s %14s %14s %8s\n' threads "overlap s" "no-overlap s" ratio
for threads in 1 2; do
  overlapped="$(best_of --threads "$threads")"
  sequential="$(best_of --threads "$threads" --no-overlap)"
  printf '%-8s %14.3f %14.3f %8.2f\n' "$threads" "$overlapped" "$sequential" "$(echo "$sequential / $overlapped" | bc -l)"
done
