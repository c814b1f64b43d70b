#!/usr/bin/env python3
"""timm classifiers for the classification benchmark (bench/bench_classify.sh).

  bench_classify_torch.py make DIR ARCH         timm.create_model(ARCH) with random weights and
                                                trained-looking BatchNorm statistics, saved as a timm
                                                train.py checkpoint DIR/ARCH.pth
  bench_classify_torch.py time DIR ARCH THREADS REPEATS BATCH
                                                PyTorch eager on the same weights: one line of JSON,
                                                latency_ms (batch 1) and batch_ms (BATCH images),
                                                medians of REPEATS after a warm-up, (image/255 - mean)/std
                                                and the softmax included, as in medport's graph
"""
import argparse
import json
import os
import sys
import time

import timm
import torch


def make(folder, arch):
    torch.manual_seed(0)
    model = timm.create_model(arch, num_classes=4)
    with torch.no_grad():
        for name, b in model.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 2.0)
            elif name.endswith("running_mean"):
                b.normal_(0, 0.2)
    os.makedirs(folder, exist_ok=True)
    args = argparse.Namespace(model=arch, num_classes=4, input_size=None, img_size=None, mean=None, std=None,
                              crop_pct=None, interpolation="")
    torch.save({"epoch": 0, "arch": arch, "state_dict": model.state_dict(), "version": 2, "args": args, "metric": 0.0},
               os.path.join(folder, arch + ".pth"))


def median_ms(repeats, fn):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2]


def timing(folder, arch, threads, repeats, batch):
    torch.set_num_threads(threads)
    ck = torch.load(os.path.join(folder, arch + ".pth"), map_location="cpu")
    model = timm.create_model(arch, num_classes=4)
    model.load_state_dict(ck["state_dict"])
    model.eval()
    cfg = timm.data.resolve_data_config({}, model=model)
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)

    def run(n):
        x = torch.rand(n, 3, 224, 224) * 255
        with torch.no_grad():
            return torch.softmax(model((x / 255 - mean) / std), -1)

    one = median_ms(repeats, lambda: run(1))
    many = median_ms(repeats, lambda: run(batch))
    print(json.dumps({"latency_ms": one, "batch_ms": many, "images_per_s": batch * 1000 / many, "batch": batch,
                      "threads": threads, "torch": torch.__version__}))


def main():
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3])
    else:
        timing(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))


if __name__ == "__main__":
    main()
