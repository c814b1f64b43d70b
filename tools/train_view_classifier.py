#!/usr/bin/env python3
"""Train the embedded demo classifier models/view_classifier: timm's mobilenetv3_small_050 telling
the apical two-chamber (2CH) from the four-chamber (4CH) view on medport's synthetic phantoms.

  .venv/bin/python tools/train_view_classifier.py BUILD/medport [-o models/view_classifier]

Training images come from the built `medport phantom` (ED and ES frames of both views) with seeds
that the demo (2026) and the tests never use, at several image sizes. Training uses timm's own
transforms (random resized crop, no flips: a mirrored apical view is another acquisition), SGD
with momentum and a cosine schedule as timm's train.py defaults, and writes the checkpoint the
way timm's train.py does (epoch, arch, state_dict, optimizer, version, args as an
argparse.Namespace, metric) plus classes.txt (one class name per line) and training.json.
Deterministic: fixed seeds, one thread. About two minutes on an idle 2-core machine.
"""
import argparse
import json
import os
import random
import sys
import tempfile
import time

import numpy as np
import timm
import torch
from PIL import Image
from timm.data import create_transform

from phantom_sets import phantom_patients

ARCH = "mobilenetv3_small_050"
CLASSES = ["2CH", "4CH"]
INPUT_SIZE = 128
# (seed, patients, size): seeds disjoint from the demo's 2026 and the tests'.
TRAIN_SETS = [(301, 50, "256x256"), (302, 15, "320x256"), (303, 15, "256x320"), (304, 10, "224x224")]
VAL_SETS = [(401, 10, "256x256"), (402, 5, "288x240")]
EPOCHS = 14
BATCH = 32
LR = 0.02


def phantoms(medport, root, sets):
    items = []
    for folder, patient in phantom_patients(medport, root, sets):
        for label, view in enumerate(CLASSES):
            for phase in ("ED", "ES"):
                items.append((os.path.join(folder, f"{patient}_{view}_{phase}.png"), label))
    return items


def batches(items, transform, shuffle, rng):
    order = list(range(len(items)))
    if shuffle:
        rng.shuffle(order)
    for i in range(0, len(order), BATCH):
        chunk = [items[j] for j in order[i:i + BATCH]]
        x = torch.stack([transform(Image.open(p).convert("RGB")) for p, _ in chunk])
        yield x, torch.tensor([label for _, label in chunk])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medport")
    ap.add_argument("-o", "--output", default=os.path.join(os.path.dirname(__file__), "..", "models", "view_classifier"))
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        train = phantoms(a.medport, os.path.join(tmp, "train"), TRAIN_SETS)
        val = phantoms(a.medport, os.path.join(tmp, "val"), VAL_SETS)
        model = timm.create_model(ARCH, num_classes=len(CLASSES))
        cfg = model.pretrained_cfg
        train_tf = create_transform(INPUT_SIZE, is_training=True, scale=(0.6, 1.0), hflip=0.0, color_jitter=0.2,
                                    interpolation="bicubic", mean=cfg["mean"], std=cfg["std"])
        eval_tf = create_transform(INPUT_SIZE, crop_pct=0.875, interpolation="bicubic", mean=cfg["mean"], std=cfg["std"])
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, weight_decay=2e-5, nesterov=True)
        steps = EPOCHS * ((len(train) + BATCH - 1) // BATCH)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.15)
        log = []
        start = time.time()
        for epoch in range(EPOCHS):
            model.train()
            losses = []
            for x, y in batches(train, train_tf, True, rng):
                loss = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
            model.eval()
            correct = 0
            with torch.no_grad():
                for x, y in batches(val, eval_tf, False, rng):
                    correct += (model(x).argmax(1) == y).sum().item()
            acc = correct / len(val)
            log.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "val_accuracy": acc})
            print(f"epoch {epoch:2d}  loss {np.mean(losses):.4f}  val accuracy {acc:.3f}  ({time.time() - start:.0f} s)")
    os.makedirs(a.output, exist_ok=True)
    args = argparse.Namespace(model=ARCH, num_classes=len(CLASSES), input_size=[3, INPUT_SIZE, INPUT_SIZE],
                              img_size=None, crop_pct=0.875, mean=None, std=None, interpolation="bicubic",
                              batch_size=BATCH, epochs=EPOCHS, opt="sgd", momentum=0.9, lr=LR, weight_decay=2e-5,
                              smoothing=0.1, hflip=0.0, scale=[0.6, 1.0], color_jitter=0.2, model_ema=False, seed=0)
    checkpoint = {"epoch": EPOCHS - 1, "arch": ARCH, "state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                  "version": 2, "args": args, "metric": log[-1]["val_accuracy"]}
    torch.save(checkpoint, os.path.join(a.output, "model_best.pth.tar"))
    with open(os.path.join(a.output, "classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    with open(os.path.join(a.output, "training.json"), "w") as f:
        json.dump({"arch": ARCH, "timm": timm.__version__, "torch": torch.__version__, "train_images": len(train),
                   "val_images": len(val), "train_sets": TRAIN_SETS, "val_sets": VAL_SETS, "log": log}, f, indent=1)
    print("wrote", a.output)


if __name__ == "__main__":
    sys.exit(main())
