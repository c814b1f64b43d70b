#!/usr/bin/env bash
# README command 1, after setup.sh has built everything: medport end to end on the embedded default
# model models/phantom2d (a small nnU-Net v2 PlainConvUNet trained on synthetic phantoms by
# tools/train_phantom_model.py, stored as a real nnU-Net v2 model folder) and on a phantom patient
# the model has never seen. Everything is written under out/demo/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-build}"
medport="$here/$build_dir/medport"
model="$here/models/phantom2d"
out="$here/out/demo"
seed=2026  # training used seeds 101-104 and 201; the tests use 7
rm -rf "$out"
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "1. medport inspect: what the checkpoint holds (read safely, nothing in it is executed)"
"$medport" inspect "$model/fold_0/checkpoint_final.pth"

step "2. medport convert: the nnU-Net model folder -> exact ONNX graph + sidecar"
"$medport" convert "$model" -o "$out/phantom2d.onnx"

step "3. medport phantom: a synthetic CAMUS-like patient (2CH/4CH x ED/ES) with known LV volumes (seed $seed)"
"$medport" phantom -o "$out/phantoms" --patients 1 --seed "$seed"
patient_dir="$out/phantoms/phantom0001"
patient="$(basename "$patient_dir")"

step "4. medport segment: nnU-Net inference on the four views (each view with its pixel spacing), overlays on"
spacing_of() {  # spacing.json {"2CH": [row, col], ...} -> "row,col"
  /usr/bin/python3 -c 'import json, sys; print(",".join(map(str, json.load(open(sys.argv[1]))[sys.argv[2]])))' \
    "$patient_dir/spacing.json" "$1"
}
spacing_2ch="$(spacing_of 2CH)"
spacing_4ch="$(spacing_of 4CH)"
"$medport" segment "$out/phantom2d.onnx" "$patient_dir/${patient}_2CH_ED.npy" "$patient_dir/${patient}_2CH_ES.npy" \
  -o "$out/segmentation" --spacing "$spacing_2ch" --threads 2
"$medport" segment "$out/phantom2d.onnx" "$patient_dir/${patient}_4CH_ED.npy" "$patient_dir/${patient}_4CH_ES.npy" \
  -o "$out/segmentation" --spacing "$spacing_4ch" --threads 2

step "5. medport evaluate: the predicted label maps against the phantom's ground truth"
"$medport" evaluate "$out/segmentation" "$patient_dir" -o "$out/evaluation"

step "6. medport echo-ef: CAMUS biplane method of disks on the predicted masks and on the ground truth"
"$medport" echo-ef "$out/segmentation" --suffix seg --spacing-a2c "$spacing_2ch" --spacing-a4c "$spacing_4ch" \
  --json "$out/ef_segmentation.json"
"$medport" echo-ef "$patient_dir" --suffix gt --json "$out/ef_ground_truth.json"

step "Summary"
/usr/bin/python3 - "$patient_dir/${patient}_truth.json" "$out/ef_segmentation.json" "$out/ef_ground_truth.json" \
  "$out/evaluation/metrics.json" <<'PY'
import json, math, sys
truth = json.load(open(sys.argv[1]))["truth"]
seg, gt = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
summary = json.load(open(sys.argv[4]))["summary"]
print(f"EF true {truth['EF_percent']:.1f} %  (analytic phantom volumes EDV {truth['EDV_mL']:.1f} mL, "
      f"ESV {truth['ESV_mL']:.1f} mL)")
print(f"EF from medport segmentation {seg['EF_percent']:.1f} %  (EDV {seg['EDV_mL']:.0f} mL, ESV {seg['ESV_mL']:.0f} mL)")
print(f"EF from ground-truth masks {gt['EF_percent']:.1f} %  (EDV {gt['EDV_mL']:.0f} mL, ESV {gt['ESV_mL']:.0f} mL)")
names = {"1": "LV", "2": "MYO", "3": "LA"}
for label, name in names.items():
    dice = summary[label]["dice"]
    print(f"Dice {name:<3} {dice['mean']:.3f} +- {dice['std']:.3f}  (4 views)")
PY
printf '\nOverlays:\n'
ls -1 "$out"/segmentation/*_overlay.png
printf 'EF reports: %s %s\nMetrics: %s\n' "$out/ef_segmentation.json" "$out/ef_ground_truth.json" \
  "$out/evaluation/metrics.json"
