#!/usr/bin/env bash
# README command 1, after setup.sh has built everything: medport on the embedded default model.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:-build}"
medport="$here/$build_dir/medport"
model="$here/models/camus2d_small"
out="$here/out/demo"
mkdir -p "$out"

echo "== medport inspect: what is inside the embedded nnU-Net checkpoint"
"$medport" inspect "$model/fold_0/checkpoint_final.pth"
