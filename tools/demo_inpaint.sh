#!/usr/bin/env bash
# The embedded demo diffusion model (models/echo_diffusion64) filling a masked wedge of an unseen
# phantom's ultrasound sector: medport convert -> medport phantom (seed 4242, never trained on)
# -> keep mask -> medport inpaint (RePaint, EchoGAINS schedule: t_T 250, jump 10 x 10, 2410 UNet
# calls, seed 1) -> before/after PNG (docs/images/inpaint_demo.png).
#
#   tools/demo_inpaint.sh [BUILD_DIR] [OUT_DIR] [extra inpaint flags, e.g. --provider cuda]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
out="${2:-$here/out/inpaint_demo}"
shift $(( $# > 2 ? 2 : $# ))
medport="$build/medport"
python=/usr/bin/python3
mkdir -p "$out"
"$medport" convert "$here/models/echo_diffusion64/model.pt" -o "$out/echo_diffusion64.onnx" --image-size 64 >/dev/null
"$medport" phantom -o "$out/phantom" --patients 1 --seed 4242 >/dev/null
image="$out/phantom/phantom0001/phantom0001_4CH_ED.png"
"$python" "$here/tools/demo_inpaint.py" mask "$out/keep_mask.png"
"$medport" inpaint "$out/echo_diffusion64.onnx" --image "$image" --mask "$out/keep_mask.png" \
  -o "$out/inpainted.png" --seed 1 "$@"
"$python" "$here/tools/demo_inpaint.py" compose "$image" "$out/keep_mask.png" "$out/inpainted.png" "$out/before_after.png"
echo "before | region to fill | medport's fill: $out/before_after.png"
