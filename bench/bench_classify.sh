#!/usr/bin/env bash
# timm classifier timings on the CPU: medport (ONNX Runtime) vs PyTorch eager (timm), same
# weights, same intra-op threads, 224x224 inputs, normalization and softmax included on both
# sides. Per-image latency (batch 1), batch throughput (BATCH images) for resnet50,
# efficientnet_b0, convnext_tiny and vit_small_patch16_224, then frames per second of
# `classify --video` end to end (decode + transform + inference) with efficientnet_b0.
#
#   bench/bench_classify.sh [BUILD_DIR] [THREADS] [REPEATS] [BATCH]
#
# Needs the test venv's timm (tools/requirements-test.txt) and BUILD_DIR/bench/bench_classify.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
threads="${2:-2}"
repeats="${3:-10}"
batch="${4:-16}"
python="${MEDPORT_PYTHON:-$here/.venv/bin/python}"
timer="$build/bench/bench_classify"
medport="$build/medport"
[ -x "$timer" ] || { echo "need $timer" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf "%-24s %12s %12s %9s %14s %14s %9s\n" model "medport ms" "torch ms" ratio "medport img/s" "torch img/s" ratio
for arch in resnet50 efficientnet_b0 convnext_tiny vit_small_patch16_224; do
  "$python" "$here/bench/bench_classify_torch.py" make "$work" "$arch"
  "$medport" convert "$work/$arch.pth" -o "$work/$arch.onnx" > /dev/null
  ours="$("$timer" "$work/$arch.onnx" "$threads" "$repeats" "$batch")"
  theirs="$("$python" "$here/bench/bench_classify_torch.py" time "$work" "$arch" "$threads" "$repeats" "$batch")"
  "$python" - "$arch" "$ours" "$theirs" <<'PY'
import json, sys
arch, ours, theirs = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"{arch:<24} {ours['latency_ms']:>12.1f} {theirs['latency_ms']:>12.1f} {theirs['latency_ms'] / ours['latency_ms']:>9.2f}"
      f" {ours['images_per_s']:>14.1f} {theirs['images_per_s']:>14.1f} {ours['images_per_s'] / theirs['images_per_s']:>9.2f}")
PY
done
echo "# video: $timer --video $work/efficientnet_b0.onnx $threads 300 $work/cine.avi"
"$timer" --video "$work/efficientnet_b0.onnx" "$threads" 300 "$work/cine.avi"
