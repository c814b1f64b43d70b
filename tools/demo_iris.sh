#!/usr/bin/env bash
# The embedded demo IRIS model models/iris_phantom (trained by tools/train_iris_demo.py on phantom
# seeds 301-303) on phantom patients it has never seen: one labelled example (patient 1 of seed
# 2026: its four frames with their masks) and a patient to segment (patient 2: 2CH/4CH x ED/ES),
# with each few-shot strategy, scored by Dice against the phantom's truth. Everything is written
# under out/demo_iris/ (label maps, montages, case JSONs, metrics).
#
#   tools/demo_iris.sh [BUILD_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-build}"
medport="$here/$build_dir/medport"
out="$here/out/demo_iris"
seed=2026
rm -rf "$out"
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "medport convert: the training checkpoint (with its config and memory bank) -> IRIS graphs + sidecar"
"$medport" convert "$here/models/iris_phantom/iris_phantom.pt" -o "$out/model"

step "medport phantom: two patients the model never saw (seed $seed)"
"$medport" phantom -o "$out/phantoms" --patients 2 --seed "$seed"
example="$out/phantoms/phantom0001"
patient="$out/phantoms/phantom0002"
frames=(2CH_ED 2CH_ES 4CH_ED 4CH_ES)
queries=()
for f in "${frames[@]}"; do queries+=(--query "$patient/phantom0002_$f.npy"); done
supports=()
for f in "${frames[@]}"; do supports+=(--support "$example/phantom0001_$f.npy" --support-mask "$example/phantom0001_${f}_gt.npy"); done
one=(--support "$example/phantom0001_4CH_ED.npy" --support-mask "$example/phantom0001_4CH_ED_gt.npy")
common=(--config "$here/models/iris_phantom/inference.yaml" --threads 2)

run() {  # run NAME ARGS...: fewshot into $out/NAME, then Dice of its label maps against the truth
  local name="$1"
  shift
  step "$name"
  "$medport" fewshot "$out/model" "${queries[@]}" -o "$out/$name" "${common[@]}" "$@"
  mkdir -p "$out/$name/eval_in"
  for f in "${frames[@]}"; do cp "$out/$name/phantom0002_${f}_labels.png" "$out/$name/eval_in/phantom0002_${f}_seg.png"; done
  "$medport" evaluate "$out/$name/eval_in" "$patient" -o "$out/$name/evaluation" > /dev/null
}
run one-shot "${one[@]}"
run ensemble "${supports[@]}" --strategy ensemble
run memory --strategy memory
run tune "${one[@]}" --strategy tune --tune-steps 20

step "Dice against the phantom's truth (patient 2, four frames; mean +- std)"
/usr/bin/python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
print(f"{'strategy':<10} {'LV':>15} {'MYO':>15} {'LA':>15}")
for name in ("one-shot", "ensemble", "memory", "tune"):
    summary = json.load(open(os.path.join(out, name, "evaluation", "metrics.json")))["summary"]
    cells = [f"{summary[k]['dice']['mean']:.3f} +- {summary[k]['dice']['std']:.3f}" for k in ("1", "2", "3")]
    print(f"{name:<10} " + " ".join(f"{c:>15}" for c in cells))
PY
printf '\nMontages: %s/*/phantom0002_4CH_ED_montage.png\n' "$out"
