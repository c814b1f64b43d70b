#!/usr/bin/env bash
# Per-step latency of the full-size EchoGAINS UNet (guided-diffusion, 64 channels, mult
# 1,1,2,2,4,4, 3 res blocks, attention at 16/8 with head width 1, learned sigma; random weights
# from tools/guided_diffusion_reference.py) on the CPU: medport (ONNX Runtime) vs PyTorch eager,
# same intra-op threads, 256x256, batch 1 and 2. Extrapolates the 250-step DDPM and the
# 2410-call RePaint (t_T 250, jump 10 x 10) per image from the per-call time plus the host step
# time (noise draws + update, measured by bench_diffusion_step with a zero model).
#
#   bench/bench_diffusion.sh [BUILD_DIR] [THREADS] [CALLS]
#
# BUILD_DIR must hold medport and bench/bench_diffusion_step (configure with -DMEDPORT_BUILD_BENCH=ON).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
threads="${2:-2}"
calls="${3:-5}"
python=/usr/bin/python3
medport="$build/medport"
stepper="$build/bench/bench_diffusion_step"
[ -x "$medport" ] && [ -x "$stepper" ] || { echo "need $medport and $stepper" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(--model-channels 64 --channel-mult 1,1,2,2,4,4 --attention-ds 16,32 --num-res-blocks 3
       --num-heads 4 --num-head-channels 1)
make_cmd=("$python" "$here/tools/guided_diffusion_reference.py" make-case "$work/case" "${flags[@]}" --batch 1 --size 32)
convert_cmd=("$medport" convert "$work/case/model.pt" -o "$work/unet.onnx" --image-size 256)
echo "# ${make_cmd[*]}"; "${make_cmd[@]}" >/dev/null
echo "# ${convert_cmd[*]}"; "${convert_cmd[@]}" | grep -E "parameters|network"


printf '\n%-8s %-6s %12s %12s %14s %16s %14s %18s\n' runtime batch "session s" "UNet ms" "host ms/step" "host ms/RePaint" "DDPM s/img" "RePaint s/img"
for batch in 1 2; do
  cmd=("$stepper" "$work/unet.onnx" "$batch" "$threads" "$calls" 256)
  echo "# ${cmd[*]}" >&2
  json="$("${cmd[@]}")"
  get() { echo "$json" | "$python" -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
  m=$(get model_ms); hd=$(get host_ddpm_ms); hr=$(get host_repaint_ms); n=$(get repaint_calls); s=$(get session_s)
  ddpm=$(echo "250 * ($m + $hd) / 1000 / $batch" | bc -l); rp=$(echo "$n * ($m + $hr) / 1000 / $batch" | bc -l)
  printf '%-8s %-6s %12.2f %12.1f %14.2f %16.2f %14.1f %18.1f\n' medport "$batch" "$s" "$m" "$hd" "$hr" "$ddpm" "$rp"
  echo "$batch $m $hd $hr $n" >>"$work/medport.txt"
done
for batch in 1 2; do
  cmd=("$python" "$here/bench/bench_diffusion_torch.py" "$work/case/model.pt" "$batch" "$threads" "$calls" "${flags[@]}")
  echo "# ${cmd[*]}" >&2
  m="$("${cmd[@]}")"
  read -r _ _ hd hr n < <(grep "^$batch " "$work/medport.txt")
  ddpm=$(echo "250 * ($m + $hd) / 1000 / $batch" | bc -l); rp=$(echo "$n * ($m + $hr) / 1000 / $batch" | bc -l)
  printf '%-8s %-6s %12s %12.1f %14s %16s %14.1f %18.1f\n' torch "$batch" - "$m" "(medport's)" "(medport's)" "$ddpm" "$rp"
done
echo "(s/img = calls x (UNet ms + host ms) / batch; torch rows reuse medport's host times)"
