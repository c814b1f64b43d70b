#!/usr/bin/env bash
# The classifier demo (docs/CLASSIFY.md), after setup.sh has built medport: the embedded view
# classifier models/view_classifier (timm mobilenetv3_small_050, 2CH vs 4CH, a timm train.py
# checkpoint made by tools/train_view_classifier.py) converted to ONNX (fp32 and fp16), run on
# phantom images it has never seen, then validated frame by frame on a generated cine against its
# fp16 export. Everything is written under out/demo_classify/. Needs ffmpeg for the cine.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-build}"
medport="$here/$build_dir/medport"
model="$here/models/view_classifier"
out="$here/out/demo_classify"
seed=2026  # training used seeds 301-304 and 401-402
rm -rf "$out"
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "1. medport convert: the timm train.py checkpoint -> ONNX with /255, mean/std and softmax inside"
"$medport" convert "$model/model_best.pth.tar" --classes "$model/classes.txt" -o "$out/view.onnx"
"$medport" convert "$model/model_best.pth.tar" --classes "$model/classes.txt" --fp16 -o "$out/view_fp16.onnx" > /dev/null

step "2. medport phantom: 4 unseen patients, 2CH and 4CH views at ED and ES (seed $seed)"
"$medport" phantom -o "$out/phantoms" --patients 4 --seed "$seed" > /dev/null
mkdir -p "$out/images"
for f in "$out"/phantoms/*/*_[24]CH_E[DS].png; do cp "$f" "$out/images/"; done

step "3. medport classify: timm's evaluation transform, top-2, JSON + CSV"
"$medport" classify "$out/view.onnx" "$out/images" --top-k 2 -o "$out/classified" --threads 2

step "4. a cine: the views one after another (ffmpeg, 10 fps)"
mkdir -p "$out/cine_frames"
n=0
for f in "$out"/images/*.png; do
  for _ in $(seq 1 8); do cp "$f" "$(printf '%s/cine_frames/%04d.png' "$out" "$n")"; n=$((n + 1)); done
done
ffmpeg -loglevel error -y -framerate 10 -i "$out/cine_frames/%04d.png" -c:v mpeg4 -q:v 2 -pix_fmt yuv420p \
  "$out/cine.mp4"
echo "$out/cine.mp4: $n frames"

step "5. medport classify --video --compare: fp32 against the fp16 export on every frame"
"$medport" classify "$out/view.onnx" --video "$out/cine.mp4" --compare "$out/view_fp16.onnx" -o "$out/video" \
  --threads 2

step "Summary"
/usr/bin/python3 - "$out/classified/classification.json" "$out/video/frames.json" "$out/video/comparison.json" <<'PY'
import json, sys
images = json.load(open(sys.argv[1]))["images"]
right = sum(1 for i in images if ("_2CH_" in i["image"]) == (i["top1"]["label"] == "2CH"))
print(f"images: {right}/{len(images)} views classified correctly")
frames = json.load(open(sys.argv[2]))["frames"]
order = sorted(i["image"] for i in images)
truth = [("2CH" if "_2CH_" in order[f["frame"] // 8] else "4CH") for f in frames]
video_right = sum(1 for f, t in zip(frames, truth) if f["top1"] == t)
print(f"video:  {video_right}/{len(frames)} frames classified correctly")
c = json.load(open(sys.argv[3]))
print(f"fp32 vs fp16: max |p difference| {c['max_abs_diff']:.2e}, mean {c['mean_abs_diff']:.2e}, "
      f"top-1 agreement {100 * c['top1_agreement']:.1f} %, first disagreeing frame {c['first_disagreeing_frame']}")
PY
echo "plots: $out/video/probabilities.png, $out/video/comparison.png"
