#!/usr/bin/env bash
# Core ML conversion of the full-size models: `medport convert --format coreml` vs Apple's
# coremltools converting the same PyTorch modules (tools/coreml_reference.py: torch.jit.trace +
# coremltools.convert to an ML Program, Debian's torch 1.13), wall-clock seconds and peak resident
# memory (GNU time's maximum RSS) of the whole process, each run alone on the machine.
#
#   bench/bench_coreml.sh [MEDPORT_BINARY] [VENV_PYTHON]
#
# Models (random weights, real layouts): the CAMUS 2D nnU-Net of ../shared/fixtures/fullsize
# (33,473,330 parameters, written as an nnU-Net v2 trainer checkpoint by tools/nnunet_reference.py:
# weights plus SGD momentum) and the EchoGAINS guided-diffusion UNet (41,125,062 parameters, a plain
# state dict from tools/guided_diffusion_reference.py). "weights" is 4 bytes per parameter.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
medport="${1:-$here/build/medport}"
python="${2:-$here/.venv/bin/python}"
fixtures="${MEDPORT_FIXTURES:-$here/../shared/fixtures}"
plans="$fixtures/fullsize/camus2d_nnunet/nnUNetTrainer__nnUNetPlans__2d"
[ -x "$medport" ] || { echo "no medport binary at $medport" >&2; exit 2; }
[ -d "$plans" ] || { echo "no full-size CAMUS plans at $plans" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
camus="$(/usr/bin/python3 "$here/tools/nnunet_reference.py" make-model "$plans" "$work/camus")"
gd_flags=(--model-channels 64 --channel-mult 1,1,2,2,4,4 --attention-ds 16,32 --num-res-blocks 3 --num-heads 4
          --num-head-channels 1)
/usr/bin/python3 "$here/tools/guided_diffusion_reference.py" make-case "$work/gd" "${gd_flags[@]}" --batch 1 --size 32 >/dev/null

# "seconds max_rss_kb" of a command (its own output discarded).
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  cat "$work/time"
}
row() {  # label weights_mb seconds rss_kb
  local mb; mb=$(echo "scale=0; $4 / 1024" | bc)
  printf '%-58s %8.2f %9s %7.2fx\n' "$1" "$3" "$mb" "$(echo "$4 / 1024 / $2" | bc -l)"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; medport $("$medport" version | head -1)"
printf '%-58s %8s %9s %8s\n' "conversion" "seconds" "peak MB" "/weights"
for model in camus gd; do
  if [ "$model" = camus ]; then
    src="$camus"; weights_mb=$(echo "33473330 * 4 / 1048576" | bc -l); extra=()
    echo "full-size CAMUS 2D nnU-Net (weights $(printf '%.0f' "$weights_mb") MB, checkpoint $(du -m "$camus/fold_0/checkpoint_final.pth" | cut -f1) MB)"
  else
    src="$work/gd/model.pt"; weights_mb=$(echo "41125062 * 4 / 1048576" | bc -l); extra=(--image-size 256)
    echo "full-size EchoGAINS UNet (weights $(printf '%.0f' "$weights_mb") MB, checkpoint $(du -m "$src" | cut -f1) MB)"
  fi
  read -r s m < <(measure "$medport" convert "$src" "${extra[@]}" --format coreml -o "$work/$model.mlpackage")
  row "  medport convert --format coreml (fp16 ML Program)" "$weights_mb" "$s" "$m"
  read -r s m < <(measure "$medport" convert "$src" "${extra[@]}" --format coreml --fp32 -o "$work/${model}32.mlpackage")
  row "  medport convert --format coreml --fp32" "$weights_mb" "$s" "$m"
  read -r s m < <(measure "$medport" convert "$src" "${extra[@]}" --format coreml -o "$work/$model.mlmodel")
  row "  medport convert --format coreml (NeuralNetwork .mlmodel)" "$weights_mb" "$s" "$m"
  read -r s m < <(measure "$medport" convert "$src" "${extra[@]}" --format coreml --fp16 -o "$work/${model}16.mlmodel")
  row "  medport convert --format coreml --fp16 (NeuralNetwork .mlmodel)" "$weights_mb" "$s" "$m"
  read -r s m < <(measure "$medport" convert "$src" "${extra[@]}" -o "$work/$model.onnx")
  row "  medport convert --format onnx (same reader, for reference)" "$weights_mb" "$s" "$m"
  if [ "$model" = camus ]; then
    ref=("$python" "$here/tools/coreml_reference.py" nnunet "$camus" "$work/apple_$model.mlpackage")
  else
    ref=("$python" "$here/tools/coreml_reference.py" diffusion "$src" "$work/apple_$model.mlpackage" --size 256 "${gd_flags[@]}")
  fi
  read -r s m < <(measure "${ref[@]}")
  row "  coremltools 9.1 (trace + convert, fp16 ML Program)" "$weights_mb" "$s" "$m"
  read -r s m < <(measure "${ref[@]}" --fp32)
  row "  coremltools 9.1 --fp32" "$weights_mb" "$s" "$m"
done
