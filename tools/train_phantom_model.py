#!/usr/bin/python3
"""Train the embedded default model models/phantom2d: a small 2D nnU-Net v2 PlainConvUNet that
segments medport's synthetic CAMUS-like phantoms (0 background, 1 LV, 2 MYO, 3 LA).

  /usr/bin/python3 tools/train_phantom_model.py BUILD/medport [-o models/phantom2d] [--iterations 2000]

Training data come from the built `medport phantom` with seeds that the demo (2026) and the tests
(7) never use. Preprocessing is nnU-Net's DefaultPreprocessor for these images, exactly what
`medport segment` does at inference: crop to the nonzero region, z-score per image, resampling to
the target spacing (tests/python's restatement of nnU-Net's resample_data_or_seg). The network,
the plans layout and the trainer checkpoint come from tools/nnunet_reference.py, so the folder
written is a real nnU-Net v2 model folder (plans.json, dataset.json, fold_0/checkpoint_final.pth
with network_weights, optimizer_state, logging, init_args, trainer_name, mirroring axes).

Loss: soft Dice (batch dice, foreground labels) + cross-entropy with deep supervision as
nnUNetTrainer; Adam (lr 2e-3, poly decay) rather than nnUNetTrainer's SGD because the budget is
only 2000 iterations; light augmentation (flips, rotation, scaling, intensity). Deterministic:
fixed seeds, one thread. Run with /usr/bin/python3 (Debian torch 1.13, CPU); about 10 minutes on
an idle 2-core machine.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
import nnunet_reference as ref  # noqa: E402
from nnunet_resampling_reference import nnunet_resample  # noqa: E402

LABELS = {"background": 0, "LV": 1, "MYO": 2, "LA": 3}
VIEWS = [(v, p) for v in ("2CH", "4CH") for p in ("ED", "ES")]
# (seed, patients, size): seeds disjoint from the demo's 2026 and the tests' 7.
TRAIN_SETS = [(101, 40, "256x256"), (102, 12, "320x256"), (103, 12, "256x320"), (104, 8, "224x224")]
VAL_SETS = [(201, 4, "256x256")]
TARGET_SPACING = [0.9, 0.9]
PATCH = [192, 256]  # the whole ~170 x 220 mm fan at 0.9 mm in one tile
FEATURES = [8, 16, 32, 64, 64]
CONFIG = "2d"
BATCH_SIZE = 2
LEARNING_RATE = 2e-3
VALIDATE_EVERY = 50  # iterations per logged "epoch"


# ----------------------------------------------------------------------------- data

def generate(medport, root, sets):
    cases = []
    for seed, patients, size in sets:
        out = os.path.join(root, f"seed{seed}_{size}")
        subprocess.run([medport, "phantom", "-o", out, "--patients", str(patients), "--seed", str(seed),
                        "--size", size], check=True, stdout=subprocess.DEVNULL)
        for patient in sorted(os.listdir(out)):
            folder = os.path.join(out, patient)
            with open(os.path.join(folder, "spacing.json")) as f:
                spacing = json.load(f)
            for view, phase in VIEWS:
                stem = os.path.join(folder, f"{patient}_{view}_{phase}")
                cases.append((np.load(stem + ".npy"), np.load(stem + "_gt.npy"), spacing[view]))
    return cases


def crop_to_nonzero(image, seg):
    mask = ndimage.binary_fill_holes(image != 0)
    rows, cols = np.where(mask.any(1))[0], np.where(mask.any(0))[0]
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    return image[box], seg[box]


def preprocess(image, seg, spacing):
    """nnU-Net's DefaultPreprocessor on one 2D case: crop, z-score, resample (data order 3, seg 1)."""
    image, seg = crop_to_nonzero(image.astype(np.float32), seg)
    image = (image - image.mean()) / max(float(image.std()), 1e-8)
    # 2D images are (c, 1, H, W) with an out-of-plane spacing far larger than the in-plane ones.
    current = [999.0, float(spacing[0]), float(spacing[1])]
    target = [999.0] + TARGET_SPACING
    shape = [1] + [int(round(s / t * n)) for s, t, n in zip(current[1:], TARGET_SPACING, image.shape)]
    data = nnunet_resample(image[None, None].astype(np.float32), shape, current, target, False, 3)
    labels = nnunet_resample(seg[None, None].astype(np.int16), shape, current, target, True, 1)
    return data[0, 0].astype(np.float32), labels[0, 0].astype(np.int64)


def intensity_properties(cases):
    values = np.concatenate([img[seg > 0].astype(np.float64) for img, seg, _ in cases])
    return {"max": float(values.max()), "mean": float(values.mean()), "median": float(np.median(values)),
            "min": float(values.min()), "percentile_00_5": float(np.percentile(values, 0.5)),
            "percentile_99_5": float(np.percentile(values, 99.5)), "std": float(values.std())}


# ----------------------------------------------------------------------------- plans

def make_plans(train_cases, preprocessed):
    spacings = np.array([c[2] for c in train_cases], dtype=np.float64)
    shapes = np.array([c[0].shape for c in train_cases])
    sizes = np.array([d.shape for d, _ in preprocessed])
    n = len(FEATURES)
    kw = ref.arch(2, FEATURES, [[3, 3]] * n, [[1, 1]] + [[2, 2]] * (n - 1), "n_conv_per_stage", [2] * n,
                  [2] * (n - 1))
    config = ref.configuration(CONFIG, 2, PATCH, TARGET_SPACING, "PlainConvUNet", kw, 1)
    config["normalization_schemes"] = ["ZScoreNormalization"]
    config["batch_size"] = BATCH_SIZE
    config["median_image_size_in_voxels"] = [int(v) for v in np.median(sizes, axis=0)]
    plans = ref.base_plans(2, PATCH, TARGET_SPACING, 1)
    plans["dataset_name"] = "Dataset900_MedportPhantom2d"
    plans["original_median_spacing_after_transp"] = [999.0] + [float(v) for v in np.median(spacings, axis=0)]
    plans["original_median_shape_after_transp"] = [1] + [int(v) for v in np.median(shapes, axis=0)]
    plans["configurations"] = {CONFIG: config}
    plans["foreground_intensity_properties_per_channel"] = {"0": intensity_properties(train_cases)}
    # The same key order as nnU-Net's planner writes.
    order = ["dataset_name", "plans_name", "original_median_spacing_after_transp", "original_median_shape_after_transp",
             "image_reader_writer", "transpose_forward", "transpose_backward", "configurations",
             "experiment_planner_used", "label_manager", "foreground_intensity_properties_per_channel"]
    return {k: plans[k] for k in order}


def make_dataset(n_training):
    return {"channel_names": {"0": "US"}, "labels": LABELS, "numTraining": n_training, "file_ending": ".png"}


# ----------------------------------------------------------------------------- training

def pad_to(array, shape, value):
    pads = [(0, max(0, s - a)) for a, s in zip(array.shape, shape)]
    pads = [((p[1]) // 2, p[1] - p[1] // 2) for p in pads]
    return np.pad(array, pads, constant_values=value)


def random_patch(rng, data, seg):
    data, seg = pad_to(data, PATCH, 0.0), pad_to(seg, PATCH, 0)
    r0 = rng.integers(0, data.shape[0] - PATCH[0] + 1)
    c0 = rng.integers(0, data.shape[1] - PATCH[1] + 1)
    box = (slice(r0, r0 + PATCH[0]), slice(c0, c0 + PATCH[1]))
    return data[box], seg[box]


def augment(rng, x, y):
    """Light spatial (rotation +-12 deg, scale 0.85-1.15, flips) and intensity augmentation, batched."""
    b = x.shape[0]
    angle = torch.from_numpy(rng.uniform(-12, 12, b) * math.pi / 180).float()
    scale = torch.from_numpy(rng.uniform(0.85, 1.15, b)).float()
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros(b)], 1), torch.stack([sin, cos, torch.zeros(b)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    y = F.grid_sample(y[:, None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)[:, 0].long()
    flip_r = torch.from_numpy(rng.random(b) < 0.5)
    flip_c = torch.from_numpy(rng.random(b) < 0.5)
    x[flip_r], y[flip_r] = x[flip_r].flip(-2), y[flip_r].flip(-2)
    x[flip_c], y[flip_c] = x[flip_c].flip(-1), y[flip_c].flip(-1)
    gain = torch.from_numpy(rng.uniform(0.8, 1.2, (b, 1, 1, 1))).float()
    shift = torch.from_numpy(rng.normal(0, 0.1, (b, 1, 1, 1))).float()
    noise = torch.from_numpy(rng.normal(0, 1, x.shape)).float() * torch.from_numpy(rng.uniform(0, 0.1, (b, 1, 1, 1))).float()
    return x * gain + shift + noise, y


def dice_ce(logits, target, n_classes):
    ce = F.cross_entropy(logits, target)
    probs = torch.softmax(logits, 1)[:, 1:]
    onehot = F.one_hot(target, n_classes).permute(0, 3, 1, 2)[:, 1:].float()
    axes = (0, 2, 3)  # batch dice, as nnU-Net's default plans
    intersect = (probs * onehot).sum(axes)
    denom = probs.sum(axes) + onehot.sum(axes)
    dice = (2 * intersect + 1e-5) / torch.clamp(denom + 1e-5, min=1e-8)
    return ce - dice.mean()


def deep_supervision_loss(outputs, target, n_classes):
    weights = np.array([1 / (2 ** i) for i in range(len(outputs))])
    weights[-1] = 0  # nnU-Net drops the lowest resolution
    weights = weights / weights.sum()
    total = 0.0
    for w, out in zip(weights, outputs):
        if w == 0:
            continue
        t = target if out.shape[-2:] == target.shape[-2:] else \
            F.interpolate(target[:, None].float(), size=out.shape[-2:], mode="nearest")[:, 0].long()
        total = total + float(w) * dice_ce(out, t, n_classes)
    return total


def predict_full(net, data):
    """Whole-image prediction padded to a multiple of the stride product (validation only)."""
    stride = 2 ** (len(FEATURES) - 1)
    shape = [int(math.ceil(s / stride) * stride) for s in data.shape]
    padded = pad_to(data, shape, 0.0)
    r0, c0 = (shape[0] - data.shape[0]) // 2, (shape[1] - data.shape[1]) // 2
    with torch.no_grad():
        logits = net(torch.from_numpy(padded)[None, None])
    return logits[0, :, r0:r0 + data.shape[0], c0:c0 + data.shape[1]].argmax(0).numpy()


def dice_per_label(pred, gt):
    out = []
    for label in range(1, len(LABELS)):
        p, g = pred == label, gt == label
        out.append(2 * np.logical_and(p, g).sum() / max(1, p.sum() + g.sum()))
    return out


def validate(net, val):
    net.eval()
    net.decoder.deep_supervision = False
    scores = np.array([dice_per_label(predict_full(net, d), s) for d, s in val])
    net.decoder.deep_supervision = True
    net.train()
    return scores.mean(0)


def train(net, train_data, val_data, iterations, seed, log):
    rng = np.random.default_rng(seed)
    n_classes = len(LABELS)
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, weight_decay=3e-5)
    start = time.perf_counter()
    it = 0
    logging = {k: [] for k in ("mean_fg_dice", "ema_fg_dice", "dice_per_class_or_region", "train_losses",
                               "val_losses", "lrs", "epoch_start_timestamps", "epoch_end_timestamps")}
    losses, ema = [], None
    net.train()
    while it < iterations:
        lr = LEARNING_RATE * (1 - it / iterations) ** 0.9
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = rng.integers(0, len(train_data), BATCH_SIZE)
        patches = [random_patch(rng, *train_data[i]) for i in idx]
        x = torch.from_numpy(np.stack([p[0] for p in patches]))[:, None]
        y = torch.from_numpy(np.stack([p[1] for p in patches]))
        x, y = augment(rng, x, y)
        loss = deep_supervision_loss(net(x), y, n_classes)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
        optimizer.step()
        losses.append(float(loss))
        it += 1
        if it % VALIDATE_EVERY == 0 or it == iterations:
            t0 = time.perf_counter()
            dice = validate(net, val_data)
            mean = float(dice.mean())
            ema = mean if ema is None else 0.9 * ema + 0.1 * mean
            logging["mean_fg_dice"].append(np.float64(mean))
            logging["ema_fg_dice"].append(np.float64(ema))
            logging["dice_per_class_or_region"].append([float(d) for d in dice])
            logging["train_losses"].append(np.float32(np.mean(losses[-VALIDATE_EVERY:])))
            logging["val_losses"].append(np.float32(-mean))
            logging["lrs"].append(lr)
            logging["epoch_start_timestamps"].append(t0)
            logging["epoch_end_timestamps"].append(time.perf_counter())
            log(f"iter {it:5d}/{iterations} lr {lr:.5f} loss {np.mean(losses[-VALIDATE_EVERY:]):+.4f} "
                f"val Dice LV {dice[0]:.4f} MYO {dice[1]:.4f} LA {dice[2]:.4f} "
                f"({time.perf_counter() - start:.0f} s)")
    return optimizer, logging, ema, it


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("medport", help="the built medport executable (its `phantom` command makes the data)")
    p.add_argument("-o", "--out", default=os.path.join(HERE, "..", "models", "phantom2d"))
    p.add_argument("--iterations", type=int, default=2000, help="training iterations (batches of 2)")
    p.add_argument("--seed", type=int, default=12345)
    args = p.parse_args()
    # One thread: on a loaded 2-core machine two OpenMP threads spin against each other and
    # each iteration costs several times more CPU.
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:7.1f} s] {msg}", flush=True)

    work = tempfile.mkdtemp(prefix="phantom_train_")
    try:
        train_cases = generate(args.medport, work, TRAIN_SETS)
        val_cases = generate(args.medport, work, VAL_SETS)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    train_data = [preprocess(*c) for c in train_cases]
    val_data = [preprocess(*c) for c in val_cases]
    log(f"{len(train_data)} training and {len(val_data)} validation images preprocessed "
        f"(target spacing {TARGET_SPACING} mm, patch {PATCH})")

    plans = make_plans(train_cases, train_data)
    dataset = make_dataset(len(train_data))
    net = ref.network_from_plans(plans, dataset, CONFIG, deep_supervision=True)
    log(f"PlainConvUNet features {FEATURES}: {ref.count_unique(net)} parameters")
    optimizer, logging, ema, iterations = train(net, train_data, val_data, args.iterations, args.seed, log)

    net.decoder.deep_supervision = False
    net.eval()
    ckpt = ref.trainer_checkpoint(net, plans, dataset, CONFIG, None)
    ckpt["optimizer_state"] = optimizer.state_dict()
    ckpt["logging"] = logging
    ckpt["_best_ema"] = np.float64(ema)
    ckpt["current_epoch"] = iterations // VALIDATE_EVERY
    os.makedirs(os.path.join(args.out, "fold_0"), exist_ok=True)
    with open(os.path.join(args.out, "plans.json"), "w") as f:
        json.dump(plans, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "dataset.json"), "w") as f:
        json.dump(dataset, f, indent=2)
        f.write("\n")
    torch.save(ckpt, os.path.join(args.out, "fold_0", "checkpoint_final.pth"))
    log(f"wrote {os.path.abspath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
