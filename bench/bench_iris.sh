#!/usr/bin/env bash
# IRIS few-shot timings on the CPU: medport (ONNX Runtime) vs PyTorch eager, same model, same
# inputs, same intra-op threads. The model: base 16, 8 tokens, 8 heads, volume 16x128x128 (the
# configuration the upstream training scripts use for 2-D data), random weights from
# tools/iris_reference.py make (seed 0), one support with K = 2 classes, one query.
# Measured: support encoding, one-shot (encode + forward), 3-support context ensemble
# (3 encodes + forward) and in-context tuning (STEPS Adam steps on Dice + BCE, then the final
# loss and logits).
#
#   bench/bench_iris.sh [BUILD_DIR] [THREADS] [REPEATS] [STEPS]
#
# BUILD_DIR must hold bench/bench_iris (configure with -DMEDPORT_BUILD_BENCH=ON).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
threads="${2:-2}"
repeats="${3:-3}"
steps="${4:-20}"
python=/usr/bin/python3
timer="$build/bench/bench_iris"
[ -x "$timer" ] || { echo "need $timer" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
make_cmd=("$python" "$here/tools/iris_reference.py" make "$work/ref" --base 16 --tokens 8 --heads 8
          --volume 16 128 128 --classes 2 --seed 0)
echo "# ${make_cmd[*]}"; "${make_cmd[@]}"

cmd=("$timer" "$work/ref/model.pt" "$work/ref/config.json" "$work/ref/reference.npz" "$work/out" "$threads" "$repeats" "$steps")
echo "# ${cmd[*]}"
ours="$("${cmd[@]}")"
echo "medport: $ours"
cmd=("$python" "$here/bench/bench_iris_torch.py" "$work/ref" "$threads" "$repeats" "$steps")
echo "# ${cmd[*]}"
theirs="$("${cmd[@]}")"
echo "torch:   $theirs"

"$python" - "$ours" "$theirs" <<'EOF'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"\n{'task':<28} {'medport ms':>12} {'torch ms':>12} {'torch / medport':>16}")
for key, label in [("encode_ms", "support encoding"), ("one_shot_ms", "one-shot (encode+forward)"),
                   ("ensemble3_ms", "3-support ensemble"), ("tune_ms", f"tuning, {ours['tune_steps']} steps")]:
    print(f"{label:<28} {ours[key]:>12.1f} {theirs[key]:>12.1f} {theirs[key] / ours[key]:>16.2f}")
print(f"loss first/last: medport {ours['loss_first']:.6f}/{ours['loss_last']:.6f}, "
      f"torch {theirs['loss_first']:.6f}/{theirs['loss_last']:.6f}")
EOF
