#!/usr/bin/env python3
"""PyTorch eager baseline of a whole RePaint image: the guided-diffusion UNet of
tools/guided_diffusion_reference.py (same weights as medport's), EchoGAINS' process (linear, 4000
steps respaced to 250, learned-range variance, clipped x0) and RePaint's jump schedule (t_T 250,
jump 10 x 10: 2410 UNet calls), every tensor on the benchmark device (bench/torch_device.py),
Gaussian draws from torch on that device. One line of JSON: seconds per run and per image.

  torch_repaint.py MODEL.pt BATCH [--size 256] [--t-T 250] [reference flags]
"""
import argparse
import importlib.util
import json
import os
import sys
import time

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, ".."))
from torch_device import DEVICE, FP16, put, sync  # noqa: E402

spec = importlib.util.spec_from_file_location("gdref", os.path.join(here, "..", "..", "tools", "guided_diffusion_reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def respaced_tables(steps=4000, respacing=250):
    scale = 1000.0 / steps
    betas = np.linspace(scale * 1e-4, scale * 0.02, steps)
    abar = np.cumprod(1.0 - betas)
    # space_timesteps(steps, "N") for one section: evenly spaced with Python rounding.
    stride = (steps - 1) / (respacing - 1)
    kept = sorted({round(i * stride) for i in range(respacing)})
    last, new_betas = 1.0, []
    for k in kept:
        new_betas.append(1.0 - abar[k] / last)
        last = abar[k]
    b = np.array(new_betas)
    a = np.cumprod(1.0 - b)
    a_prev = np.append(1.0, a[:-1])
    post_var = b * (1.0 - a_prev) / (1.0 - a)
    return {"map": np.array(kept), "betas": b, "abar": a, "log_min": np.log(np.append(post_var[1], post_var[1:])),
            "coef1": b * np.sqrt(a_prev) / (1.0 - a), "coef2": (1.0 - a_prev) * np.sqrt(1.0 - b) / (1.0 - a)}


def jump_times(t_T, jump_length=10, jump_n_sample=10):
    jumps = {j: jump_n_sample - 1 for j in range(0, t_T - jump_length, jump_length)}
    t, ts = t_T, []
    while t >= 1:
        t -= 1
        ts.append(t)
        if jumps.get(t, 0) > 0:
            jumps[t] -= 1
            for _ in range(jump_length):
                t += 1
                ts.append(t)
    ts.append(-1)
    return ts


@torch.no_grad()
def repaint(net, gt, mask, tables, times):
    f = lambda name, k: float(tables[name][k])
    x = torch.randn_like(gt)
    have_x0, calls = False, 0
    for t_last, t_cur in zip(times[:-1], times[1:]):
        if t_cur < t_last:
            k = t_last
            z = torch.randn_like(x)
            if have_x0:
                a = f("abar", k)
                x = mask * (a ** 0.5 * gt + (1 - a) ** 0.5 * torch.randn_like(x)) + (1 - mask) * x
            t = torch.full((x.shape[0],), int(tables["map"][k]), device=x.device, dtype=torch.int64)
            out = net(x, t).float()
            calls += 1
            eps, v = out.chunk(2, dim=1)
            a = f("abar", k)
            x0 = ((1 / a) ** 0.5 * x - (1 / a - 1) ** 0.5 * eps).clamp(-1, 1)
            mean = f("coef1", k) * x0 + f("coef2", k) * x
            frac = (v + 1) / 2
            log_var = frac * float(np.log(tables["betas"][k])) + (1 - frac) * f("log_min", k)
            x = mean + (1.0 if k != 0 else 0.0) * torch.exp(0.5 * log_var) * z
            have_x0 = True
        else:
            b = f("betas", t_last + 1)
            x = (1 - b) ** 0.5 * x + b ** 0.5 * torch.randn_like(x)
        if FP16:
            x = x.half()
    return x, calls


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("batch", type=int)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--t-T", type=int, default=250)
    ref.add_flags(p)
    a = p.parse_args()
    torch.manual_seed(0)
    net = ref.UNet(a).eval()
    net.load_state_dict(torch.load(a.model, map_location="cpu"), strict=True)
    net = put(net)
    gt = put(torch.rand(a.batch, a.in_channels, a.size, a.size) * 2 - 1)
    mask = put((torch.arange(a.size)[None, None, None, :] < a.size // 2).float().expand(1, 1, a.size, a.size))
    tables = respaced_tables(respacing=max(a.t_T, 250))
    times = jump_times(a.t_T)
    repaint(net, gt, mask, tables, jump_times(min(a.t_T, 3), 1, 1))  # warm-up
    sync()
    start = time.perf_counter()
    _, calls = repaint(net, gt, mask, tables, times)
    sync()
    seconds = time.perf_counter() - start
    print(json.dumps({"device": str(DEVICE), "fp16": FP16, "batch": a.batch, "size": a.size, "calls": calls,
                      "seconds": round(seconds, 3), "seconds_per_image": round(seconds / a.batch, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
