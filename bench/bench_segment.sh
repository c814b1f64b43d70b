#!/usr/bin/env bash
# Segmentation speed: full-size CAMUS 2D nnU-Net (PlainConvUNet, 7 stages, 32..512 features,
# 33,473,330 parameters, random weights from tools/nnunet_reference.py), 256x256 preprocessed
# images (one 256x256 tile each), with and without mirroring:
#   - `medport segment` end to end (process start, model load, every case written), CASES images,
#     and the per-image predict time from the case summaries;
#   - bench_segment (in-process): predictor vs the raw ONNX Runtime time of the same inputs;
#   - PyTorch eager (torch 1.13) running nnU-Net's sliding window on the same network
#     (tools/nnunet_sliding_window_reference.py bench), same thread count.
# Peak memory from /usr/bin/time -v.
#
#   bench/bench_segment.sh [BUILD_DIR] [THREADS] [CASES]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
threads="${2:-2}"
cases="${3:-8}"
python=/usr/bin/python3
plans="${MEDPORT_FIXTURES:-$here/../shared/fixtures}/fullsize/camus2d_nnunet/nnUNetTrainer__nnUNetPlans__2d"
[ -x "$build/medport" ] || { echo "no medport binary in $build" >&2; exit 2; }
[ -d "$plans" ] || { echo "no full-size CAMUS plans at $plans" >&2; exit 2; }

work="${MEDPORT_BENCH_WORK:-$(mktemp -d)}"
[ -n "${MEDPORT_BENCH_WORK:-}" ] || trap 'rm -rf "$work"' EXIT
if [ ! -d "$work/model/nnUNetTrainer__nnUNetPlans__2d" ]; then
  "$python" "$here/tools/nnunet_reference.py" make-model "$plans" "$work/model" >/dev/null
fi
folder="$work/model/nnUNetTrainer__nnUNetPlans__2d"
[ -f "$work/camus.onnx" ] || "$build/medport" convert "$folder" -o "$work/camus.onnx" >/dev/null
mkdir -p "$work/in"
"$python" - "$work/in" "$cases" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(0)
for i in range(int(sys.argv[2])):
    np.save(f"{sys.argv[1]}/case{i:03d}.npy", rng.standard_normal((1, 256, 256)).astype(np.float32))
PY

peak_mb() { awk -F: '/Maximum resident/ {printf "%.0f", $2/1024}' "$1"; }
summary_ms() {  # median of a timings_ms field over the case summaries
  "$python" -c "import json,glob,sys,statistics as s; print('%.1f' % s.median(json.load(open(f))['timings_ms'][sys.argv[2]] for f in glob.glob(sys.argv[1]+'/*.json')))" "$1" "$2"
}

echo "threads=$threads cases=$cases (256x256, patch 256x256)"
for mode in tta no-tta; do
  flags=(--preprocessed --threads "$threads" --no-overlay --overwrite)
  [ "$mode" = no-tta ] && flags+=(--no-tta)
  rm -rf "$work/out-$mode"
  start=$(date +%s.%N)
  /usr/bin/time -v "$build/medport" segment "$work/camus.onnx" "$work/in" -o "$work/out-$mode" "${flags[@]}" \
    2> "$work/time-$mode.txt" >/dev/null
  end=$(date +%s.%N)
  wall=$(echo "$end - $start" | bc -l)
  printf 'medport segment %-6s: %6.2f s for %d cases (%.2f images/s incl. start-up and load), predict %s ms/image (network %s ms), peak %s MB\n' \
    "$mode" "$wall" "$cases" "$(echo "$cases / $wall" | bc -l)" "$(summary_ms "$work/out-$mode" predict)" \
    "$(summary_ms "$work/out-$mode" network)" "$(peak_mb "$work/time-$mode.txt")"
done

if [ -x "$build/bench/bench_segment" ]; then
  MEDPORT_BENCH_MODEL="$work/camus.onnx" MEDPORT_BENCH_THREADS="$threads" \
    /usr/bin/time -v "$build/bench/bench_segment" 2> "$work/time-bench.txt" | grep -E "^BM_|Benchmark"
  echo "bench_segment peak $(peak_mb "$work/time-bench.txt") MB"
fi

for mode in tta no-tta; do
  extra=()
  [ "$mode" = no-tta ] && extra+=(--no-mirror)
  /usr/bin/time -v "$python" "$here/tools/nnunet_sliding_window_reference.py" bench "$folder" --size 256 256 \
    --threads "$threads" --repeats 5 "${extra[@]}" 2> "$work/time-torch-$mode.txt" > "$work/torch-$mode.json"
  printf 'pytorch eager %-6s: median %s ms/image, peak %s MB\n' "$mode" \
    "$("$python" -c "import json; print('%.1f' % json.load(open('$work/torch-$mode.json'))['ms_median'])")" \
    "$(peak_mb "$work/time-torch-$mode.txt")"
done
