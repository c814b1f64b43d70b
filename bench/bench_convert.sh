#!/usr/bin/env bash
# Conversion time and peak memory: `medport convert` vs `torch.onnx.export` of the same full-size
# CAMUS 2D nnU-Net (PlainConvUNet, 7 stages, 32..512 features, 33,473,330 parameters, random
# weights written as a real nnU-Net v2 trainer checkpoint - SGD momentum buffers included, 268 MB -
# by tools/nnunet_reference.py).
#
#   bench/bench_convert.sh [MEDPORT_BINARY] [RUNS]
#
# Warm cache: the checkpoint is read once before timing and every method runs once untimed.
# Per run: wall-clock seconds of the whole process (start-up, checkpoint read, graph, ONNX file
# written and synced) and its peak resident memory (max RSS, /usr/bin/time -v). For torch the
# in-process time (torch.load -> export finished, without the Python/torch import) is shown as
# well. Medians over RUNS.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
medport="${1:-$here/build/medport}"
runs="${2:-5}"
python=/usr/bin/python3
plans="${MEDPORT_FIXTURES:-$here/../shared/fixtures}/fullsize/camus2d_nnunet/nnUNetTrainer__nnUNetPlans__2d"
[ -x "$medport" ] || { echo "no medport binary at $medport" >&2; exit 2; }
[ -d "$plans" ] || { echo "no full-size CAMUS plans at $plans" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package 'time')" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
model="$("$python" "$here/tools/nnunet_reference.py" make-model "$plans" "$work")"
checkpoint="$model/fold_0/checkpoint_final.pth"
ckpt_mb=$(echo "scale=1; $(stat -c %s "$checkpoint") / 1000000" | bc)
cat "$checkpoint" > /dev/null  # warm the page cache

# Runs a command under /usr/bin/time -v; prints "seconds max_rss_kb" (wall clock from date, for
# millisecond resolution; /usr/bin/time's own start-up is included and is about a millisecond).
measure() {
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$work/time.txt" "$@" > "$work/out.txt" 2>/dev/null
  end=$(date +%s.%N)
  awk -F': ' -v s="$(echo "$end - $start" | bc -l)" '/Maximum resident set size/ {kb = $2}
              END {printf "%.3f %d\n", s, kb}' "$work/time.txt"
}

declare -a t_fp32 m_fp32 t_fp16 m_fp16 t_torch m_torch t_torch_inproc
medport_fp32() { "$medport" convert "$model" -o "$work/m32.onnx"; }
medport_fp16() { "$medport" convert "$model" -o "$work/m16.onnx" --fp16; }
torch_export() { "$python" "$here/tools/nnunet_reference.py" export-onnx "$model" "$work/torch.onnx"; }
medport_fp32 > /dev/null; medport_fp16 > /dev/null; torch_export > /dev/null 2>&1  # warm-up
for i in $(seq 1 "$runs"); do
  read -r t m < <(measure "$medport" convert "$model" -o "$work/m32.onnx"); t_fp32+=("$t"); m_fp32+=("$m")
  read -r t m < <(measure "$medport" convert "$model" -o "$work/m16.onnx" --fp16); t_fp16+=("$t"); m_fp16+=("$m")
  read -r t m < <(measure "$python" "$here/tools/nnunet_reference.py" export-onnx "$model" "$work/torch.onnx")
  t_torch+=("$t"); m_torch+=("$m"); t_torch_inproc+=("$(tail -1 "$work/out.txt")")
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
mb() { echo "scale=1; $1 / 1000000" | bc; }
size_mb() { mb "$(stat -c %s "$1")"; }
row() {  # label seconds rss_kb onnx_file
  local rss_mb onnx_mb ratio
  rss_mb=$(mb "$(($3 * 1024))")
  onnx_mb=$(size_mb "$4")
  ratio=$(echo "scale=2; $rss_mb / $onnx_mb" | bc)
  printf '%-40s %8.3f %10s %9s %10s\n' "$1" "$2" "$rss_mb" "$onnx_mb" "$ratio"
}

echo "full-size CAMUS 2D nnU-Net, checkpoint $ckpt_mb MB, $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), median of $runs runs, warm cache"
printf '%-40s %8s %10s %9s %10s\n' "method" "seconds" "max RSS MB" "ONNX MB" "RSS/ONNX"
row "medport convert (fp32)" "$(median "${t_fp32[@]}")" "$(median "${m_fp32[@]}")" "$work/m32.onnx"
row "medport convert --fp16" "$(median "${t_fp16[@]}")" "$(median "${m_fp16[@]}")" "$work/m16.onnx"
row "torch.onnx.export (whole process)" "$(median "${t_torch[@]}")" "$(median "${m_torch[@]}")" "$work/torch.onnx"
printf '%-40s %8.3f\n' "torch.onnx.export (load+export, in proc)" "$(median "${t_torch_inproc[@]}")"
echo "runs (fp32 seconds): ${t_fp32[*]}"
