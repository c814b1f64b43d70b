#!/usr/bin/env bash
# Conversion time: `medport convert` vs `torch.onnx.export` of the same full-size CAMUS 2D
# nnU-Net (PlainConvUNet, 7 stages, 32..512 features, 33,473,330 parameters, random weights
# written as a real nnU-Net v2 trainer checkpoint by tools/nnunet_reference.py).
#
#   bench/bench_convert.sh [MEDPORT_BINARY] [RUNS]
#
# Wall-clock seconds per run, whole process (start-up, checkpoint read, graph, ONNX file written).
# For torch the in-process time (torch.load -> export finished, without the Python/torch import)
# is shown as well.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
medport="${1:-$here/build/medport}"
runs="${2:-3}"
python=/usr/bin/python3
plans="${MEDPORT_FIXTURES:-$here/../shared/fixtures}/fullsize/camus2d_nnunet/nnUNetTrainer__nnUNetPlans__2d"
[ -x "$medport" ] || { echo "no medport binary at $medport" >&2; exit 2; }
[ -d "$plans" ] || { echo "no full-size CAMUS plans at $plans" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
model="$("$python" "$here/tools/nnunet_reference.py" make-model "$plans" "$work")"
ckpt_mb=$(du -m "$model/fold_0/checkpoint_final.pth" | cut -f1)

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

declare -a t_fp32 t_fp16 t_torch t_torch_inproc
for i in $(seq 1 "$runs"); do
  s=$(now); "$medport" convert "$model" -o "$work/m32.onnx" >/dev/null; e=$(now); t_fp32+=("$(elapsed "$s" "$e")")
  s=$(now); "$medport" convert "$model" -o "$work/m16.onnx" --fp16 >/dev/null; e=$(now); t_fp16+=("$(elapsed "$s" "$e")")
  s=$(now)
  inproc=$("$python" "$here/tools/nnunet_reference.py" export-onnx "$model" "$work/torch.onnx" 2>/dev/null | tail -1)
  e=$(now)
  t_torch+=("$(elapsed "$s" "$e")"); t_torch_inproc+=("$inproc")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
size_mb() { echo "scale=1; $(stat -c %s "$1") / 1048576" | bc; }

echo "full-size CAMUS 2D nnU-Net, checkpoint ${ckpt_mb} MB, $(nproc) cores, median of $runs runs"
printf '%-44s %10s %10s\n' "method" "seconds" "ONNX MB"
printf '%-44s %10.2f %10s\n' "medport convert (fp32)" "$(median "${t_fp32[@]}")" "$(size_mb "$work/m32.onnx")"
printf '%-44s %10.2f %10s\n' "medport convert --fp16" "$(median "${t_fp16[@]}")" "$(size_mb "$work/m16.onnx")"
printf '%-44s %10.2f %10s\n' "torch.onnx.export (whole process)" "$(median "${t_torch[@]}")" "$(size_mb "$work/torch.onnx")"
printf '%-44s %10.2f %10s\n' "torch.onnx.export (load+export, in process)" "$(median "${t_torch_inproc[@]}")" "-"
