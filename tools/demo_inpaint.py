#!/usr/bin/python3
"""Helpers of tools/demo_inpaint.sh (tooling, not the product path).

  demo_inpaint.py mask OUT.png [--size 64]
      keep mask (255 = keep) of the demo: a wedge of the ultrasound sector (apex at the top
      centre, 5..30 degrees right of the axis, radius 14..60 px of 64) is to be filled
  demo_inpaint.py compose IMAGE.png MASK.png INPAINTED.png OUT.png
      side by side, 4x enlarged: the unseen phantom at the model's 64 px (box-halved like
      center_crop_arr), the region to fill in red, medport's fill
"""
import sys

import numpy as np
from PIL import Image


def mask(out, size=64):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = np.degrees(np.arctan2(xx - (size - 1) / 2, yy + 0.5))
    radius = np.hypot(xx - (size - 1) / 2, yy + 0.5)
    scale = size / 64
    hole = (angle > 5) & (angle < 30) & (radius > 14 * scale) & (radius < 60 * scale)
    Image.fromarray(np.where(hole, 0, 255).astype(np.uint8)).save(out)


def compose(image, keep, filled, out):
    original = Image.open(image).convert("L")
    fill = np.array(Image.open(filled).convert("L"))
    while min(original.size) >= 2 * fill.shape[0]:
        original = original.resize((original.size[0] // 2, original.size[1] // 2), Image.BOX)
    o = np.array(original)
    known = np.array(Image.open(keep).convert("L")) > 127
    masked = np.stack([o] * 3, -1)
    masked[~known] = [200, 40, 40]
    row = np.concatenate([np.stack([o] * 3, -1), masked, np.stack([fill] * 3, -1)], axis=1).astype(np.uint8)
    Image.fromarray(row).resize((row.shape[1] * 4, row.shape[0] * 4), Image.NEAREST).save(out)


if __name__ == "__main__":
    if sys.argv[1] == "mask":
        mask(sys.argv[2], int(sys.argv[4]) if len(sys.argv) > 4 else 64)
    elif sys.argv[1] == "compose":
        compose(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
