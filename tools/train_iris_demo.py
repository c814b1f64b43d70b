#!/usr/bin/python3
"""Train the embedded demo IRIS model models/iris_phantom: a small IRIS network (base 4 channels,
8 query tokens, 8 heads, volume 16x64x64; about 1M parameters) that segments medport's synthetic
CAMUS-like phantoms by few-shot, the three structures as classes: 1 LV cavity, 2 myocardium,
3 left atrium.

  /usr/bin/python3 tools/train_iris_demo.py BUILD/medport [-o models/iris_phantom] [--iterations 2500]

The network is tools/iris_reference.py's IrisReference (the state-dict layout of Nachiket1234/IRIS,
which `medport convert` reads). Volumes are made from phantom frames the way `medport fewshot`
makes them from 2D images: the frame is resized to 64x64 with scipy.ndimage.zoom (order 3; masks
order 0), repeated over the 16 slices and min-max normalized - `medport fewshot --modality other`
(the upstream preprocessing's normalization for modalities other than CT/MRI/PET).

Episodes: a support frame of one phantom patient with one class's mask, and a query frame of
another patient (another view and phase as often as not) with the same class; loss: Dice + BCE on
the query's logits (the upstream loss); Adam (lr 5e-4, linear decay, gradients clipped to norm 1);
batch 2; the weights kept are those of the best validation Dice (every 50 iterations). Unlike the upstream
training script, support and query are different images, so the network has to transfer the class
from the support instead of copying its mask. Training data: phantoms with seeds 301-303; the demo
and tests use 2026/2027 (and 7), never seen here.

The checkpoint is saved as upstream's training dict: {"model_state", "config", "memory_bank",
"iteration"}; its memory bank holds each class's mean task embedding over the training frames
(what the EMA T <- 0.999 T + 0.001 T_new settles to), so `--strategy memory` runs without a support.
Deterministic: fixed seeds, one thread. With /usr/bin/python3 (Debian torch 1.13, CPU).
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import torch
from scipy.ndimage import zoom

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import iris_reference as ref  # noqa: E402
from phantom_sets import phantom_patients  # noqa: E402

CONFIG = {"in_channels": 1, "base_channels": 4, "num_query_tokens": 8, "num_attention_heads": 8,
          "volume_shape": [16, 64, 64], "use_memory_bank": True, "memory_momentum": 0.999}
CLASSES = {1: "LV", 2: "MYO", 3: "LA"}
VIEWS = [(v, p) for v in ("2CH", "4CH") for p in ("ED", "ES")]
TRAIN_SETS = [(301, 24, "256x256"), (302, 6, "320x256"), (303, 6, "256x320")]
VAL_SETS = [(401, 4, "256x256")]
BATCH = 2
LEARNING_RATE = 5e-4
CLIP = 1.0  # gradient norm; attention training diverged without it at 2e-3


def generate(medport, root, sets):
    """Phantom frames as (image (H, W) float32, labels (H, W) int, patient id)."""
    frames = []
    for folder, patient in phantom_patients(medport, root, sets):
        for view, phase in VIEWS:
            stem = os.path.join(folder, f"{patient}_{view}_{phase}")
            frames.append((np.load(stem + ".npy").astype(np.float32), np.load(stem + "_gt.npy").astype(np.int16),
                           os.path.relpath(folder, root)))
    return frames


def to_volume(image, labels):
    """medport fewshot's default path for a 2D frame with --modality other: zoom to (H, W), repeat
    over D, min-max normalize; the mask by order 0."""
    d, h, w = CONFIG["volume_shape"]
    factors = (h / image.shape[0], w / image.shape[1])
    plane = zoom(image, factors, order=3).astype(np.float32)
    lo, hi = float(plane.min()), float(plane.max())
    plane = (plane - lo) / (hi - lo) if hi > lo else np.zeros_like(plane)
    mask = zoom(labels, factors, order=0)
    return np.repeat(plane[None], d, 0), np.repeat(mask[None], d, 0)


def episode(volumes, rng):
    """(support (B,1,D,H,W), support masks (B,1,...), query, query masks) of one class per item."""
    s_img, s_msk, q_img, q_msk = [], [], [], []
    for _ in range(BATCH):
        cls = int(rng.integers(1, 4))
        while True:
            a, b = rng.integers(0, len(volumes), size=2)
            if volumes[a][2] != volumes[b][2] and (volumes[a][1] == cls).any() and (volumes[b][1] == cls).any():
                break
        gamma = float(np.exp(rng.uniform(-0.25, 0.25)))  # intensity augmentation on the query
        s_img.append(volumes[a][0])
        s_msk.append((volumes[a][1] == cls).astype(np.float32))
        q_img.append(volumes[b][0] ** gamma)
        q_msk.append((volumes[b][1] == cls).astype(np.float32))
    t = lambda xs: torch.from_numpy(np.stack(xs)[:, None].astype(np.float32))  # noqa: E731
    return t(s_img), t(s_msk), t(q_img), t(q_msk)


def dice(logits, masks):
    pred = (logits > 0).float()
    inter = (pred * masks).sum().item()
    return 2 * inter / max(pred.sum().item() + masks.sum().item(), 1e-6)


def validate(model, volumes, rng, episodes=24):
    model.eval()
    scores = []
    with torch.no_grad():
        for _ in range(episodes):
            s, sm, q, qm = episode(volumes, rng)
            scores.append(dice(model(q, model.encode_support(s, sm)), qm))
    model.train()
    return float(np.mean(scores))


def memory_bank(model, volumes):
    """Each class's mean task embedding over the training frames."""
    model.eval()
    bank = {}
    with torch.no_grad():
        for cls in CLASSES:
            embeddings = []
            for image, labels, _ in volumes:
                if (labels == cls).any():
                    e = model.encode_support(torch.from_numpy(image[None, None]),
                                             torch.from_numpy((labels == cls)[None, None].astype(np.float32)))
                    embeddings.append(e[0, 0])
            bank[cls] = torch.stack(embeddings).mean(0).contiguous()
    return bank


def main():
    p = argparse.ArgumentParser()
    p.add_argument("medport")
    p.add_argument("-o", "--out", default=os.path.join(HERE, "..", "models", "iris_phantom"))
    p.add_argument("--iterations", type=int, default=2500)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        train = [to_volume(i, m) + (pid,) for i, m, pid in generate(a.medport, tmp, TRAIN_SETS)]
        val = [to_volume(i, m) + (pid,) for i, m, pid in generate(a.medport, tmp, VAL_SETS)]
    print(f"{len(train)} training frames, {len(val)} validation frames", flush=True)
    model = ref.IrisReference(**CONFIG)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda i: 1.0 - i / a.iterations)
    start, log = time.time(), []
    best, best_state = -1.0, None
    for it in range(1, a.iterations + 1):
        s, sm, q, qm = episode(train, rng)
        loss = ref.tuning_loss(model(q, model.encode_support(s, sm)), qm)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimiser.step()
        schedule.step()
        if it % 50 == 0 or it == a.iterations:
            val_dice = validate(model, val, np.random.default_rng(1))
            log.append({"iteration": it, "loss": float(loss.item()), "val_dice": val_dice,
                        "minutes": (time.time() - start) / 60})
            print(json.dumps(log[-1]), flush=True)
            if val_dice > best:
                best, best_state = val_dice, {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    os.makedirs(a.out, exist_ok=True)
    checkpoint = {"model_state": model.state_dict(), "config": CONFIG, "memory_bank": memory_bank(model, train),
                  "iteration": max(log, key=lambda e: e["val_dice"])["iteration"]}
    torch.save(checkpoint, os.path.join(a.out, "iris_phantom.pt"))
    with open(os.path.join(a.out, "training_log.json"), "w") as f:
        json.dump({"classes": CLASSES, "train_sets": TRAIN_SETS, "val_sets": VAL_SETS, "log": log}, f, indent=1)
    print("saved", os.path.join(a.out, "iris_phantom.pt"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
