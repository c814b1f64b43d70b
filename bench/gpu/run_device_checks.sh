#!/usr/bin/env bash
# The GPU session's one script (issue 15): CUDA tests, CUDA-vs-CPU parity, and every workload
# timed next to PyTorch eager on the same GPU, same weights, batch and precision. Results go to
# OUT/gpu_results.txt (one line per measurement, the exact command above each) and gpu_results.jsonl.
#
#   bench/gpu/run_device_checks.sh [--provider cuda|cpu] [--small] [--dry-run] [--out DIR]
#                                  [--build DIR] [--fixtures DIR] [--skip-build] [--only LIST]
#
#   --provider cpu --small   the same script on the CPU with small sizes (checked on the dev machine)
#   --dry-run                print every command, run nothing
#   --fixtures DIR           holds fullsize/{camus2d_nnunet,echogains_unet} (default ../shared/fixtures)
#   --only LIST              comma list of: tests,parity,segment,unet,repaint,iris,classify
#
# Needs (see docs/GPU.md): medport built with the bench programs (-DMEDPORT_BUILD_BENCH=ON) against
# the CUDA-enabled ONNX Runtime of `./setup.sh gpu`, the CUDA 13 / cuDNN 9 libraries (taken from the
# Python environment's nvidia-* packages when present), python3 with torch (CUDA), numpy, scipy, timm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
provider=cuda small=0 dry=0 skip_build=0 only=""
out="$here/out/gpu"
build="$here/build"
fixtures="${MEDPORT_FIXTURES:-$here/../shared/fixtures}"
while [ $# -gt 0 ]; do
  case "$1" in
    --provider) provider="$2"; shift 2 ;;
    --small) small=1; shift ;;
    --dry-run) dry=1; shift ;;
    --out) out="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --fixtures) fixtures="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --only) only=",$2,"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
python="${MEDPORT_PYTHON:-python3}"
[ "$provider" = cpu ] && python="${MEDPORT_PYTHON:-/usr/bin/python3}"
mkdir -p "$out"
results="$out/gpu_results.txt" jsonl="$out/gpu_results.jsonl" work="$out/work"
mkdir -p "$work"
: >"$results"; : >"$jsonl"
wanted() { [ -z "$only" ] || [[ "$only" == *",$1,"* ]]; }
note() { echo "$*" | tee -a "$results"; }
# run LABEL CMD...: prints and records the command, runs it (not in --dry-run), keeps its last
# line of JSON under the label.
run() {
  local label="$1"; shift
  local settings="" name
  for name in MEDPORT_BENCH_CUDA_GRAPH MEDPORT_BENCH_TORCH_FP16 MEDPORT_BENCH_MODEL MEDPORT_BENCH_SIZE; do
    [ -n "${!name:-}" ] && settings+="$name=${!name} "
  done
  note "# $label: $settings$*"
  [ "$dry" = 1 ] && return 0
  local log="$work/$label.log"
  if "$@" >"$log" 2>&1; then
    local json
    json="$(grep -E '^\{.*\}$' "$log" | tail -1 || true)"
    if [ -n "$json" ]; then
      echo "{\"label\": \"$label\", \"result\": $json}" >>"$jsonl"
      note "$label $json"
    fi
  else
    note "$label FAILED (exit $?), last lines:"; tail -5 "$log" | tee -a "$results"
  fi
  return 0
}

# ---- environment ---------------------------------------------------------------------------
ort_lib="$here/third_party/onnxruntime/lib"
if [ "$provider" = cuda ]; then
  # CUDA 13 runtime, cuBLAS, cuRAND, cuFFT and cuDNN 9 from the Python environment's nvidia-* wheels.
  nv_libs="$("$python" - <<'PY' 2>/dev/null || true
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except ImportError:
    roots = []
print(":".join(sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "**", "lib*.so*"), recursive=True)})))
PY
)"
  export LD_LIBRARY_PATH="$ort_lib${nv_libs:+:$nv_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [ -f "$ort_lib/libonnxruntime_providers_cuda.so" ] || note "WARNING: no $ort_lib/libonnxruntime_providers_cuda.so (./setup.sh gpu installs it)"
  export MEDPORT_BENCH_PROVIDER=cuda MEDPORT_BENCH_TORCH_DEVICE=cuda
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /' | tee -a "$results"
else
  export MEDPORT_BENCH_PROVIDER=cpu MEDPORT_BENCH_TORCH_DEVICE=cpu
fi
note "provider=$provider small=$small build=$build $(date -u +%FT%TZ) $(uname -n)"

# ---- build -----------------------------------------------------------------------------------
if [ "$skip_build" = 0 ] && [ "$dry" = 0 ] && { [ ! -x "$build/medport" ] || [ ! -x "$build/bench/bench_diffusion_device" ]; }; then
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONNXRUNTIME_ROOT="$here/third_party/onnxruntime" \
    -DMEDPORT_BUILD_BENCH=ON -DMEDPORT_PYTHON="$python" >/dev/null
  cmake --build "$build" -j "$(nproc)" --target medport bench_diffusion_device bench_segment bench_iris bench_classify \
    test_runtime_device test_runtime_smoke test_graphrun_model test_cli_provider test_diffusion_device_loop
fi
medport="$build/medport"
if [ "$dry" = 0 ]; then
  "$medport" version | tee -a "$results"
  if [ "$provider" = cuda ] && ! "$medport" version | grep -q "cuda provider: available"; then
    note "CUDA is not usable: $("$medport" run none.onnx --inputs none.npz -o none.npz --provider cuda 2>&1 || true)"
    exit 1
  fi
fi

# Sizes: full size on the GPU, small ones for the CPU rehearsal.
if [ "$small" = 1 ]; then
  unet_flags=(--model-channels 32 --channel-mult 1,1,2 --attention-ds 2,4 --num-res-blocks 1 --num-heads 4 --num-head-channels 1)
  unet_size=32 unet_batches=(1 2) unet_calls=2 repaint_tT=10 repaint_batches=(1 2) seg_images=1 iris_volume=(16 32 32)
  iris_steps=2 classify_batch=4 repeats=1 min_time=0.1
else
  unet_flags=(--model-channels 64 --channel-mult 1,1,2,2,4,4 --attention-ds 16,32 --num-res-blocks 3 --num-heads 4 --num-head-channels 1)
  unet_size=256 unet_batches=(1 4 16) unet_calls=20 repaint_tT=250 repaint_batches=(1 8) seg_images=20 iris_volume=(16 128 128)
  iris_steps=20 classify_batch=32 repeats=10 min_time=2
fi

# ---- tests on the device ----------------------------------------------------------------------
if wanted tests && [ "$dry" = 0 ]; then
  (cd "$build" && ctest --output-on-failure -R 'RuntimeSmoke|Providers/DeviceTest|CudaFlags|Fp16ModelTracksTheFloat32ModelOnCuda|CliProvider|DeviceLoop' \
     2>&1 | tail -25 | tee -a "$results") || note "tests FAILED"
fi

# ---- nnU-Net: full-size CAMUS 2D, 256x256, sliding window with mirroring -------------------------
plans="$fixtures/fullsize/camus2d_nnunet/nnUNetTrainer__nnUNetPlans__2d"
nnunet_folder="$work/camus/nnUNetTrainer__nnUNetPlans__2d"
# The CPU rehearsal uses the embedded phantom model (a real nnU-Net folder) instead of the 33.5 M
# parameter CAMUS network.
[ "$small" = 1 ] && plans="$here/models/phantom2d" nnunet_folder="$here/models/phantom2d"
if wanted segment; then
  if [ -d "$plans" ] || [ "$dry" = 1 ]; then
    [ "$small" = 1 ] || run nnunet_make "$python" "$here/tools/nnunet_reference.py" make-model "$plans" "$work/camus"
    run nnunet_convert "$medport" convert "$nnunet_folder" -o "$work/camus.onnx"
    run nnunet_convert_fp16 "$medport" convert "$nnunet_folder" -o "$work/camus_fp16.onnx" --fp16
  else
    note "no full-size CAMUS plans under $fixtures/fullsize (give --fixtures DIR); nnU-Net skipped"
  fi
fi
if wanted segment && { [ -d "$plans" ] || [ "$dry" = 1 ]; }; then
  for model in camus camus_fp16; do
    for graph in 0 1; do
      [ "$graph" = 1 ] && [ "$provider" != cuda ] && continue
      MEDPORT_BENCH_CUDA_GRAPH=$graph MEDPORT_BENCH_MODEL="$work/$model.onnx" MEDPORT_BENCH_SIZE=256 \
        run "segment_${model}_graph${graph}_raw" "$build/bench/bench_segment" --benchmark_filter='BM_Predict/1/1/' \
        --benchmark_repetitions="$repeats" --benchmark_min_time="$min_time" --benchmark_out="$work/segment_${model}_$graph.json"
      run "segment_${model}_graph$graph" "$python" "$here/bench/gpu/summarize_benchmark.py" "$work/segment_${model}_$graph.json"
    done
  done
  fp16=""; for precision in fp32 fp16; do
    run "segment_torch_$precision" "$python" "$here/tools/nnunet_sliding_window_reference.py" bench \
      "$nnunet_folder" --size 256 256 --repeats "$repeats" --device "$provider" $fp16
    fp16="--fp16"
  done
fi
if wanted parity && [ "$provider" = cuda ]; then
  # CUDA vs CPU on the same images: identical argmax expected (issue 15).
  run parity_phantoms "$medport" phantom -o "$work/phantoms" --patients 2 --seed 15
  run parity_convert "$medport" convert "$here/models/phantom2d" -o "$work/phantom2d.onnx"
  for p in cpu cuda; do
    run "parity_segment_$p" "$medport" segment "$work/phantom2d.onnx" "$work"/phantoms/*/*_?CH_E?.png -o "$work/seg_$p" \
      --spacing 0.3,0.3 --provider "$p" --no-overlay
  done
  if [ "$dry" = 0 ]; then
    same=0 total=0
    for f in "$work"/seg_cpu/*_seg.png; do
      total=$((total + 1)); cmp -s "$f" "$work/seg_cuda/$(basename "$f")" && same=$((same + 1))
    done
    note "parity_segment label maps identical CPU vs CUDA: $same of $total"
  fi
fi

# ---- EchoGAINS UNet: call latency at batch 1/4/16, fp32 and fp16, and whole RePaint images -----
if wanted unet || wanted repaint; then
  run unet_make "$python" "$here/tools/guided_diffusion_reference.py" make-case "$work/echogains" "${unet_flags[@]}" --batch 1 --size 32
  run unet_convert "$medport" convert "$work/echogains/model.pt" -o "$work/echogains.onnx" --image-size "$unet_size"
  run unet_convert_fp16 "$medport" convert "$work/echogains/model.pt" -o "$work/echogains_fp16.onnx" --image-size "$unet_size" --fp16
fi
if wanted unet; then
  for precision in fp32 fp16; do
    model="$work/echogains.onnx"; torch_fp16=0
    [ "$precision" = fp16 ] && model="$work/echogains_fp16.onnx" && torch_fp16=1
    for batch in "${unet_batches[@]}"; do
      for graph in 0 1; do
        [ "$graph" = 1 ] && [ "$provider" != cuda ] && continue
        MEDPORT_BENCH_CUDA_GRAPH=$graph run "unet_medport_${precision}_b${batch}_graph$graph" \
          "$build/bench/bench_diffusion_device" "$model" "$batch" "$unet_calls" "$unet_size" 0 "$([ "$batch" = 1 ] && echo 1 || echo 0)"
      done
      MEDPORT_BENCH_TORCH_FP16=$torch_fp16 run "unet_torch_${precision}_b$batch" \
        "$python" "$here/bench/bench_diffusion_torch.py" "$work/echogains/model.pt" "$batch" 0 "$unet_calls" "${unet_flags[@]}"
    done
  done
fi
if wanted repaint; then
  for batch in "${repaint_batches[@]}"; do
    for graph in 0 1; do
      [ "$graph" = 1 ] && [ "$provider" != cuda ] && continue
      MEDPORT_BENCH_CUDA_GRAPH=$graph run "repaint_medport_fp32_b${batch}_graph$graph" \
        "$build/bench/bench_diffusion_device" "$work/echogains.onnx" "$batch" 1 "$unet_size" "$repaint_tT" 0
    done
    MEDPORT_BENCH_CUDA_GRAPH=$([ "$provider" = cuda ] && echo 1 || echo 0) run "repaint_medport_fp16_b$batch" \
      "$build/bench/bench_diffusion_device" "$work/echogains_fp16.onnx" "$batch" 1 "$unet_size" "$repaint_tT" 0
    for torch_fp16 in 0 1; do
      MEDPORT_BENCH_TORCH_FP16=$torch_fp16 run "repaint_torch_fp$([ $torch_fp16 = 1 ] && echo 16 || echo 32)_b$batch" \
        "$python" "$here/bench/gpu/torch_repaint.py" "$work/echogains/model.pt" "$batch" --size "$unet_size" \
        --t-T "$repaint_tT" "${unet_flags[@]}"
    done
  done
fi

# ---- IRIS: one-shot and in-context tuning ------------------------------------------------------
if wanted iris; then
  run iris_make "$python" "$here/tools/iris_reference.py" make "$work/iris" --base 16 --tokens 8 --heads 8 \
    --volume "${iris_volume[@]}" --classes 2 --seed 0
  run iris_medport "$build/bench/bench_iris" "$work/iris/model.pt" "$work/iris/config.json" "$work/iris/reference.npz" \
    "$work/iris_out" 0 "$repeats" "$iris_steps"
  run iris_torch "$python" "$here/bench/bench_iris_torch.py" "$work/iris" 0 "$repeats" "$iris_steps"
fi

# ---- timm classifier at batch 1 and 32 ---------------------------------------------------------
if wanted classify; then
  arch=mobilenetv3_large_100
  run classify_make "$python" "$here/bench/bench_classify_torch.py" make "$work/timm" "$arch"
  run classify_convert "$medport" convert "$work/timm/$arch.pth" -o "$work/timm.onnx"
  run classify_medport "$build/bench/bench_classify" "$work/timm.onnx" 0 "$repeats" "$classify_batch"
  run classify_torch "$python" "$here/bench/bench_classify_torch.py" time "$work/timm" "$arch" 0 "$repeats" "$classify_batch"
fi
note "done: $results"
