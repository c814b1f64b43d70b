#!/usr/bin/env bash
# README command 1, after setup.sh has built everything: medport end to end on the embedded
# default model (models/camus2d_small: an nnU-Net v2 trainer checkpoint + plans + dataset.json)
# and on synthetic CAMUS-like phantoms. Everything is written under out/demo/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-build}"
medport="$here/$build_dir/medport"
model="$here/models/camus2d_small"
out="$here/out/demo"
rm -rf "$out"
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "1. medport inspect: what the checkpoint holds (read safely, nothing in it is executed)"
"$medport" inspect "$model/fold_0/checkpoint_final.pth"

step "2. medport convert: the nnU-Net model folder -> exact ONNX graph + sidecar"
"$medport" convert "$model" -o "$out/camus2d_small.onnx"

step "3. medport run: the converted graph on a random 1x1x128x128 input"
/usr/bin/python3 -c "import numpy as np; np.savez('$out/input.npz', input=np.random.default_rng(0).standard_normal((1,1,128,128)).astype(np.float32))"
"$medport" run "$out/camus2d_small.onnx" --inputs "$out/input.npz" -o "$out/logits.npz" --threads 2

step "4. medport phantom: a synthetic CAMUS-like patient (2CH/4CH x ED/ES) with known LV volumes"
"$medport" phantom -o "$out/phantoms" --patients 1 --seed 2026

step "5. medport echo-ef: CAMUS biplane method of disks on the phantom's ground-truth masks"
patient_dir="$(find "$out/phantoms" -mindepth 1 -maxdepth 1 -type d | head -1)"
"$medport" echo-ef "$patient_dir" --suffix gt --json "$out/ef.json"
truth="$(find "$patient_dir" -name '*_truth.json' | head -1)"
/usr/bin/python3 - "$truth" "$out/ef.json" <<'PY'
import json, sys
truth = json.load(open(sys.argv[1]))["truth"]
measured = json.load(open(sys.argv[2]))
print(f"EF  true {truth['EF_percent']:.1f} %  (analytic phantom volumes EDV {truth['EDV_mL']:.1f} mL, ESV {truth['ESV_mL']:.1f} mL)")
print(f"EF  measured {measured['EF_percent']:.1f} %  (CAMUS method on the masks: EDV {measured['EDV_mL']} mL, ESV {measured['ESV_mL']} mL)")
PY

printf '\nDemo outputs are in %s\n' "$out"
