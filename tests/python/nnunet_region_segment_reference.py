# nnU-Net v2 raw-image inference of a 2D region-based model, restated step by step with numpy,
# scipy and torch (the network from tools/nnunet_reference.py): nnU-Net's 2D layout, crop to
# nonzero, CT / z-score normalization, resampling to the target spacing, sliding window with mirroring,
# logits resampled back, sigmoid, regions painted in regions_class_order, pasted into the
# uncropped image (nnunetv2 export_prediction + LabelManager semantics). Test tooling only.
#
#   nnunet_region_segment_reference.py MODEL_FOLDER IMAGE.npy SPACING_ROW SPACING_COL OUT.npz
#
# IMAGE.npy is (C, H, W); OUT.npz holds 'segmentation' (uint8, H x W) and 'probabilities'
# (float32, R x H x W, zero outside the crop).
import importlib.util
import json
import os
import sys

import numpy as np
import scipy.ndimage
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


resampling = load("nnunet_resampling_reference", os.path.join(HERE, "nnunet_resampling_reference.py"))
window = load("nnunet_sliding_window_reference", os.path.join(ROOT, "tools", "nnunet_sliding_window_reference.py"))


def resample(data, new_shape, current, target, kwargs):
    return resampling.nnunet_resample(data, new_shape, current, target, False, kwargs.get("order", 3),
                                      kwargs.get("order_z", 0), kwargs.get("force_separate_z"))


def main(folder, image_path, row_spacing, col_spacing, out_path):
    with open(os.path.join(folder, "plans.json")) as f:
        plans = json.load(f)
    with open(os.path.join(folder, "dataset.json")) as f:
        dataset = json.load(f)
    cfg = plans["configurations"]["2d"]
    image = np.load(image_path).astype(np.float32)
    spacing = [999.0 * max(row_spacing, col_spacing), row_spacing, col_spacing]
    data = image[:, None]  # (C, 1, H, W), as nnU-Net's 2D readers give it

    # crop to nonzero: any channel != 0, holes filled (3D structure on the (1, H, W) mask)
    mask = scipy.ndimage.binary_fill_holes(np.any(data != 0, axis=0))
    nz = np.nonzero(mask)
    bbox = [(int(a.min()), int(a.max()) + 1) for a in nz]
    crop = tuple(slice(a, b) for a, b in bbox)
    data = data[(slice(None), *crop)]
    cropped_shape = data.shape[1:]

    for c, scheme in enumerate(cfg["normalization_schemes"]):  # without use_mask_for_norm, float32 as numpy
        ch = data[c]
        if scheme == "CTNormalization":
            props = plans["foreground_intensity_properties_per_channel"][str(c)]
            ch = np.clip(ch, props["percentile_00_5"], props["percentile_99_5"])
            data[c] = (ch - np.float32(props["mean"])) / max(props["std"], 1e-8)
        elif scheme == "ZScoreNormalization":
            data[c] = (ch - ch.mean()) / max(ch.std(), 1e-8)
        else:
            raise SystemExit(f"normalization {scheme} is not restated here")

    target = [spacing[0]] + list(cfg["spacing"])
    new_shape = [int(round(s / t * n)) for s, t, n in zip(spacing, target, cropped_shape)]
    data = resample(data, new_shape, spacing, target, cfg["resampling_fn_data_kwargs"]).astype(np.float32)

    net, patch, heads, axes = window.load_network(folder)
    logits = window.sliding_window(net, torch.from_numpy(data[:, 0]), patch, heads, axes).numpy()[:, None]
    logits = resample(logits, cropped_shape, target, spacing, cfg["resampling_fn_probabilities_kwargs"])

    probs = torch.sigmoid(torch.from_numpy(logits.astype(np.float32))).numpy()
    seg = np.zeros(cropped_shape, np.uint8)
    for r, value in enumerate(dataset["regions_class_order"]):
        seg[probs[r] > 0.5] = value

    full_seg = np.zeros(mask.shape, np.uint8)
    full_seg[crop] = seg
    full_probs = np.zeros((probs.shape[0], *mask.shape), np.float32)
    full_probs[(slice(None), *crop)] = probs
    np.savez(out_path, segmentation=full_seg[0], probabilities=full_probs[:, 0])
    return 0


if __name__ == "__main__":
    a = sys.argv[1:]
    sys.exit(main(a[0], a[1], float(a[2]), float(a[3]), a[4]))
