#!/usr/bin/python3
"""Trains medport's embedded demo diffusion model: a small guided-diffusion UNet in the EchoGAINS
layout (3 input channels, learned sigma -> 6 output channels, scale-shift norm, legacy attention
with head width 1, linear 4000-step schedule) on 64x64 phantom echo images from `medport phantom`.

To learn much from little CPU time, most steps see random 32x32 windows of the images (same
pixel scale, a quarter of the work) and a tenth see whole images. The network is
tools/guided_diffusion_reference.py's UNet (guided-diffusion's module tree, hence
its state_dict keys), trained with guided-diffusion's default objective for learned sigmas:
MSE on the noise plus the variational bound term with the mean held fixed (L_simple + L_vlb).
Images are prepared exactly as guided-diffusion's center_crop_arr does (box-halved 256 -> 128 ->
64), grey replicated to RGB, scaled to [-1, 1]; random left-right flips.

  train_diffusion_phantom.py --medport build/medport --out models/echo_diffusion64 [--steps N]

Writes OUT/model.pt (the EMA weights as a plain state_dict), OUT/config.json (hyperparameters,
the flags and the loss curve) and OUT/train_log.txt. Deterministic for a seed and thread count
(torch CPU kernels); run with /usr/bin/python3 (Debian torch 1.13).
"""
import argparse
import copy
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guided_diffusion_reference as gdr  # noqa: E402

DIFFUSION_STEPS = 4000  # EchoGAINS: linear schedule, 4000 steps (medport convert's defaults)


def model_args(a):
    return argparse.Namespace(
        model_channels=a.model_channels, in_channels=3, out_channels=6, num_res_blocks=a.num_res_blocks,
        channel_mult=a.channel_mult, attention_ds=a.attention_ds, num_heads=4, num_head_channels=1,
        new_attention_order=False, no_scale_shift=False, resblock_updown=False, num_classes=0)


class LinearProcess:
    """guided-diffusion's linear schedule (scaled by 1000 / steps) and the tables the loss needs."""

    def __init__(self, steps):
        scale = 1000.0 / steps
        betas = np.linspace(scale * 1e-4, scale * 0.02, steps, dtype=np.float64)
        abar = np.cumprod(1.0 - betas)
        abar_prev = np.append(1.0, abar[:-1])
        post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
        t = lambda v: torch.tensor(v, dtype=torch.float64)
        self.sqrt_abar = t(np.sqrt(abar))
        self.sqrt_one_minus_abar = t(np.sqrt(1.0 - abar))
        self.sqrt_recip_abar = t(np.sqrt(1.0 / abar))
        self.sqrt_recipm1_abar = t(np.sqrt(1.0 / abar - 1.0))
        self.coef1 = t(betas * np.sqrt(abar_prev) / (1.0 - abar))
        self.coef2 = t((1.0 - abar_prev) * np.sqrt(1.0 - betas) / (1.0 - abar))
        self.post_log_var = t(np.log(np.append(post_var[1], post_var[1:])))
        self.log_betas = t(np.log(betas))

    @staticmethod
    def at(table, t):
        return table[t].float()[:, None, None, None]


def normal_kl(mean1, logvar1, mean2, logvar2):
    return 0.5 * (-1.0 + logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def discretized_gaussian_log_likelihood(x, mean, log_scale):
    """log p(x) of 8-bit data in [-1, 1] under a Gaussian integrated over each 2/255-wide bin."""
    cdf = lambda v: 0.5 * (1.0 + torch.erf(v / math.sqrt(2.0)))
    centered = x - mean
    inv_std = torch.exp(-log_scale)
    cdf_plus = cdf(inv_std * (centered + 1.0 / 255.0))
    cdf_min = cdf(inv_std * (centered - 1.0 / 255.0))
    log_cdf_plus = torch.log(cdf_plus.clamp(min=1e-12))
    log_one_minus_cdf_min = torch.log((1.0 - cdf_min).clamp(min=1e-12))
    log_delta = torch.log((cdf_plus - cdf_min).clamp(min=1e-12))
    return torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_delta))


def training_loss(net, proc, x0, t, noise):
    at = LinearProcess.at
    x_t = at(proc.sqrt_abar, t) * x0 + at(proc.sqrt_one_minus_abar, t) * noise
    out = net(x_t, t)
    eps, v = out.chunk(2, dim=1)
    mse = ((noise - eps) ** 2).mean(dim=(1, 2, 3))
    # Variational bound for the variance only: the mean comes from the detached noise prediction.
    min_log, max_log = at(proc.post_log_var, t), at(proc.log_betas, t)
    frac = (v + 1.0) / 2.0
    model_log_var = frac * max_log + (1.0 - frac) * min_log
    pred_x0 = at(proc.sqrt_recip_abar, t) * x_t - at(proc.sqrt_recipm1_abar, t) * eps.detach()
    model_mean = at(proc.coef1, t) * pred_x0 + at(proc.coef2, t) * x_t
    true_mean = at(proc.coef1, t) * x0 + at(proc.coef2, t) * x_t
    kl = normal_kl(true_mean, min_log, model_mean, model_log_var).mean(dim=(1, 2, 3)) / math.log(2.0)
    nll = -discretized_gaussian_log_likelihood(x0, model_mean, 0.5 * model_log_var).mean(dim=(1, 2, 3)) / math.log(2.0)
    vb = torch.where(t == 0, nll, kl)
    return (mse + vb).mean(), mse.mean().item(), vb.mean().item()


def center_crop_arr(img, size):
    """guided-diffusion's center_crop_arr on a PIL image (box halving, bicubic, centre crop)."""
    while min(img.size) >= 2 * size:
        img = img.resize(tuple(s // 2 for s in img.size), resample=Image.BOX)
    scale = size / min(img.size)
    img = img.resize(tuple(round(s * scale) for s in img.size), resample=Image.BICUBIC)
    arr = np.array(img)
    top, left = (arr.shape[0] - size) // 2, (arr.shape[1] - size) // 2
    return arr[top:top + size, left:left + size]


def phantom_images(medport, patients, seed, size):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([medport, "phantom", "-o", tmp, "--patients", str(patients), "--seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)
        images = []
        for root, _, files in sorted(os.walk(tmp)):
            for name in sorted(files):
                if name.endswith(("_ED.png", "_ES.png")):
                    gray = Image.open(os.path.join(root, name)).convert("RGB")
                    images.append(center_crop_arr(gray, size))
    data = np.stack(images).astype(np.float32) / 127.5 - 1.0  # [N, H, W, 3]
    return torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()


def save(a, ema, params, images, step, seconds, curve):
    """EMA weights and the run's settings after `step` steps (written via temporary names)."""
    torch.save(ema.state_dict(), os.path.join(a.out, "model.pt.tmp"))
    config = {k: v for k, v in vars(a).items() if k not in ("medport", "out", "speed_test", "save_every")}
    config.update(steps=step, image_size=a.size, diffusion_steps=DIFFUSION_STEPS, noise_schedule="linear",
                  learn_sigma=True, num_head_channels=1, attention_order="legacy", parameters=params, images=images,
                  seconds=round(seconds), loss_curve=curve)
    with open(os.path.join(a.out, "config.json.tmp"), "w") as f:
        json.dump(config, f, indent=1)
    os.replace(os.path.join(a.out, "model.pt.tmp"), os.path.join(a.out, "model.pt"))
    os.replace(os.path.join(a.out, "config.json.tmp"), os.path.join(a.out, "config.json"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--medport", required=True, help="medport binary (makes the phantoms)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--patients", type=int, default=150, help="phantom patients (4 images each)")
    ap.add_argument("--phantom-seed", type=int, default=7)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--model-channels", type=int, default=32)
    ap.add_argument("--channel-mult", default="1,1,2,2")
    ap.add_argument("--num-res-blocks", type=int, default=1)
    ap.add_argument("--attention-ds", default="4,8", help="downsampling factors with attention (64 px: 16 and 8 px)")
    ap.add_argument("--crop", type=int, default=32, help="train most steps on random CROP x CROP windows (0: never)")
    ap.add_argument("--full-fraction", type=float, default=0.1, help="share of steps on whole images when cropping")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-every", type=int, default=100, help="write the EMA weights every N steps (a run of"
                    " --steps N reproduces the checkpoint written at step N: the schedule does not depend on --steps)")
    ap.add_argument("--speed-test", type=int, default=0, help="time this many steps and exit")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    data = phantom_images(a.medport, a.patients, a.phantom_seed, a.size)
    net = gdr.UNet(model_args(a)).train()
    ema = copy.deepcopy(net).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    proc = LinearProcess(DIFFUSION_STEPS)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    params = sum(p.numel() for p in net.parameters())
    print(f"{len(data)} images {tuple(data.shape[1:])}, UNet {params} parameters", flush=True)

    os.makedirs(a.out, exist_ok=True)
    log = open(os.path.join(a.out, "train_log.txt"), "w") if not a.speed_test else None
    curve, window, start = [], [], time.time()
    steps = a.speed_test or a.steps
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(data), (a.batch,))
        x0 = data[idx]
        full = torch.rand(()).item() < a.full_fraction
        if a.crop and not full:  # a window of the same pixel scale: 4x cheaper, the texture is the same
            top, left = torch.randint(0, a.size - a.crop + 1, (2,)).tolist()
            x0 = x0[:, :, top:top + a.crop, left:left + a.crop]
        flip = torch.rand(a.batch) < 0.5
        x0 = torch.where(flip[:, None, None, None], x0.flip(3), x0)
        t = torch.randint(0, DIFFUSION_STEPS, (a.batch,))
        noise = torch.randn_like(x0)
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, step / a.warmup)
        loss, mse, vb = training_loss(net, proc, x0, t, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.mul_(a.ema).add_(p, alpha=1.0 - a.ema)
        window.append((loss.item(), mse, vb))
        if step % 25 == 0 or step == steps:
            m = np.mean(window, axis=0)
            window = []
            line = f"step {step}/{steps} loss {m[0]:.4f} mse {m[1]:.4f} vb {m[2]:.4f} {time.time() - start:.0f} s"
            print(line, flush=True)
            if log:
                log.write(line + "\n")
                log.flush()
                curve.append([step, float(m[0]), float(m[1]), float(m[2])])
        if not a.speed_test and step % a.save_every == 0 and step < steps:
            save(a, ema, params, len(data), step, time.time() - start, curve)
    if a.speed_test:
        print(f"{(time.time() - start) / steps:.2f} s/step")
        return 0
    save(a, ema, params, len(data), steps, time.time() - start, curve)
    return 0


if __name__ == "__main__":
    sys.exit(main())
