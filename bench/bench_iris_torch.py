#!/usr/bin/python3
"""PyTorch eager counterpart of bench/bench_iris.cpp on the same model and inputs.

  bench_iris_torch.py MODEL_DIR THREADS REPEATS STEPS

MODEL_DIR: from `tools/iris_reference.py make` (model.pt, config.json, reference.npz). Prints one
line of JSON with the same keys as bench_iris: encode_ms, one_shot_ms, ensemble3_ms (median of
REPEATS after one warm-up, no_grad), tune_ms (STEPS Adam steps on the upstream tuning loss, then
the final loss and logits under no_grad; target = the support masks).
"""
import importlib.util
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("irisref", os.path.join(here, "..", "tools", "iris_reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
sys.path.insert(0, here)
from torch_device import put, sync  # noqa: E402


def median_ms(repeats, work):
    work()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    folder, threads, repeats, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    start = time.perf_counter()
    model = ref.IrisReference(**json.load(open(os.path.join(folder, "config.json")))).eval()
    model.load_state_dict(torch.load(os.path.join(folder, "model.pt"), map_location="cpu"))
    model = put(model)
    for p in model.parameters():
        p.requires_grad_(False)
    load_s = time.perf_counter() - start
    data = np.load(os.path.join(folder, "reference.npz"))
    support = put(torch.from_numpy(data["support_image"]))
    masks = put(torch.from_numpy(data["support_masks"]))
    query = put(torch.from_numpy(data["query_image"]))

    with torch.no_grad():
        embeddings = model.encode_support(support, masks)
        encode_ms = median_ms(repeats, lambda: model.encode_support(support, masks))
        one_shot_ms = median_ms(repeats, lambda: model(query, model.encode_support(support, masks)))

        def ensemble3():
            rows = [model.encode_support(support, masks) for _ in range(3)]
            return model(query, torch.stack(rows).mean(dim=0))

        ensemble_ms = median_ms(repeats, ensemble3)

    def tune_once(n):
        emb = nn.Parameter(embeddings.clone())
        optimiser = torch.optim.Adam([emb], lr=1e-3)
        losses = []
        for _ in range(n):
            optimiser.zero_grad()
            loss = ref.tuning_loss(model(query, emb), masks)
            losses.append(loss.item())
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            losses.append(ref.tuning_loss(model(query, emb), masks).item())
        return losses

    tune_once(1)  # warm-up
    sync()
    start = time.perf_counter()
    losses = tune_once(steps)
    sync()
    tune_ms = (time.perf_counter() - start) * 1e3
    print(json.dumps({"threads": threads, "load_s": round(load_s, 2), "encode_ms": round(encode_ms, 1),
                      "one_shot_ms": round(one_shot_ms, 1), "ensemble3_ms": round(ensemble_ms, 1),
                      "tune_steps": steps, "tune_ms": round(tune_ms, 1), "tune_step_ms": round(tune_ms / (steps + 1), 1),
                      "loss_first": losses[0], "loss_last": losses[-1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
