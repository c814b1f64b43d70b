#!/usr/bin/python3
"""PyTorch reference of nnU-Net v2's sliding-window inference (nnUNetPredictor semantics).

Written from nnunetv2's predict_sliding_window_return_logits / _internal_maybe_mirror_and_predict
and acvl_utils' pad_nd_image: centred zero padding up to the patch size, tile origins from
compute_steps_for_sliding_window (step 0.5), Gaussian importance map (sigma = patch/8, max 10,
zeros replaced by the smallest non-zero value), mirroring over every non-empty subset of the
allowed axes averaged with the plain pass, accumulation of logits*gaussian and gaussian, division,
crop. Networks come from tools/nnunet_reference.py. Used by medport's parity tests and benchmark.

  verify MODEL_FOLDER SLIDING_WINDOW_NPZ          reproduce the fixture's logits (both modes)
  predict MODEL_FOLDER IMAGE.npy OUT.npz [--no-mirror]
                                                  logits (key 'logits') of a (C, *spatial) image
  bench MODEL_FOLDER --size H W [--no-mirror] [--threads N] [--repeats R] [--device cuda] [--fp16]
                                                  eager-mode latency of the full sliding window

Run with /usr/bin/python3 (torch 1.13).
"""
import argparse
import importlib.util
import itertools
import json
import os
import sys
import time

import numpy as np
import scipy.ndimage
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("nnunet_reference", os.path.join(HERE, "nnunet_reference.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def gaussian_map(patch, sigma_scale=1.0 / 8, value_scaling=10.0, dtype=torch.float32):
    impulse = np.zeros(patch)
    impulse[tuple(p // 2 for p in patch)] = 1
    blurred = scipy.ndimage.gaussian_filter(impulse, [p * sigma_scale for p in patch], 0, mode="constant", cval=0)
    g = torch.from_numpy(blurred)
    g = g / (g.max() / value_scaling)
    g = g.to(dtype)
    g[g == 0] = torch.min(g[g != 0])
    return g


def tile_steps(image_size, patch, step_size=0.5):
    steps = []
    for size, p in zip(image_size, patch):
        n = int(np.ceil((size - p) / (p * step_size))) + 1
        stride = (size - p) / (n - 1) if n > 1 else 0
        steps.append([int(np.round(stride * k)) for k in range(n)])
    return steps


def pad_to_patch(image, patch):
    """Centred constant-0 padding of the trailing axes up to `patch`; returns (padded, crop slices)."""
    spatial = image.shape[1:]
    before = [max(0, p - s) // 2 for s, p in zip(spatial, patch)]
    after = [max(0, p - s) - b for s, p, b in zip(spatial, patch, before)]
    pad = []
    for b, a in zip(reversed(before), reversed(after)):
        pad += [b, a]
    padded = torch.nn.functional.pad(image, pad, mode="constant", value=0)
    crop = tuple(slice(b, b + s) for b, s in zip(before, spatial))
    return padded, crop


def mirrored_prediction(net, x, mirror_axes):
    prediction = net(x)
    if mirror_axes:
        combos = [c for n in range(len(mirror_axes)) for c in itertools.combinations([m + 2 for m in mirror_axes], n + 1)]
        for axes in combos:
            prediction += torch.flip(net(torch.flip(x, axes)), axes)
        prediction /= len(combos) + 1
    return prediction


@torch.no_grad()
def sliding_window(net, image, patch, num_classes, mirror_axes, step_size=0.5, gaussian_dtype=torch.float32):
    padded, crop = pad_to_patch(image, patch)
    gaussian = gaussian_map(patch, dtype=gaussian_dtype).float().to(image.device)
    logits = torch.zeros((num_classes, *padded.shape[1:]), dtype=torch.float32, device=image.device)
    weights = torch.zeros(padded.shape[1:], dtype=torch.float32, device=image.device)
    steps = tile_steps(padded.shape[1:], patch, step_size)
    for origin in itertools.product(*steps):
        sl = tuple(slice(o, o + p) for o, p in zip(origin, patch))
        tile = padded[(slice(None), *sl)][None]
        prediction = mirrored_prediction(net, tile, mirror_axes)[0]
        logits[(slice(None), *sl)] += prediction * gaussian
        weights[sl] += gaussian
    logits /= weights
    return logits[(slice(None), *crop)]


def load_network(model_folder, fold=0):
    plans, dataset = ref.load_folder(model_folder)
    ckpt = torch.load(os.path.join(model_folder, f"fold_{fold}", "checkpoint_final.pth"), map_location="cpu")
    config = ckpt["init_args"]["configuration"]
    net = ref.network_from_plans(plans, dataset, config)
    net.load_state_dict(ckpt["network_weights"])
    net.eval()
    cfg = ref.resolve_configuration(plans, config)
    mirror_axes = ckpt.get("inference_allowed_mirroring_axes")
    return net, list(cfg["patch_size"]), ref.num_heads(dataset), list(mirror_axes) if mirror_axes else []


def cmd_verify(args):
    net, patch, classes, axes = load_network(args.model_folder)
    data = np.load(args.sliding_window_npz)
    image = torch.from_numpy(data["image"])
    worst = 0.0
    for key, mirror in (("logits_no_mirror", []), ("logits_mirrored", axes)):
        out = sliding_window(net, image, patch, classes, mirror).numpy()
        err = float(np.abs(out - data[key]).max())
        worst = max(worst, err)
        print(f"{key}: max |diff| = {err:.3g}")
    seg = sliding_window(net, image, patch, classes, axes).numpy().argmax(0)
    agree = float((seg == data["segmentation"]).mean())
    print(f"segmentation agreement: {agree:.6f}")
    ok = worst < 1e-4 and agree == 1.0
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


def cmd_predict(args):
    net, patch, classes, axes = load_network(args.model_folder)
    image = torch.from_numpy(np.load(args.image).astype(np.float32))
    logits = sliding_window(net, image, patch, classes, [] if args.no_mirror else axes)
    np.savez(args.out, logits=logits.numpy())
    return 0


def cmd_bench(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    net, patch, classes, axes = load_network(args.model_folder)
    g = torch.Generator().manual_seed(0)
    image = torch.randn((net_inputs(args.model_folder), *args.size), generator=g)
    mirror = [] if args.no_mirror else axes
    device = torch.device(args.device)
    if device.type == "cuda":  # equal precision with medport: no TF32
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    net, image = net.to(device), image.to(device)
    if args.fp16:
        net = net.half()
        image = image.half()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sliding_window(net, image, patch, classes, mirror)  # warm-up
    sync()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        sliding_window(net, image, patch, classes, mirror)
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    result = {"torch_threads": torch.get_num_threads(), "device": str(device), "fp16": args.fp16,
              "size": args.size, "mirror": bool(mirror),
              "repeats": args.repeats, "ms_median": float(np.median(times)), "ms_min": float(np.min(times)),
              "ms_all": times}
    print(json.dumps(result))
    return 0


def net_inputs(model_folder):
    plans, dataset = ref.load_folder(model_folder)
    cfg = ref.resolve_configuration(plans, ref.config_of_folder(model_folder, plans))
    return ref.num_inputs(dataset, cfg)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("model_folder")
    v.add_argument("sliding_window_npz")
    pr = sub.add_parser("predict")
    pr.add_argument("model_folder")
    pr.add_argument("image")
    pr.add_argument("out")
    pr.add_argument("--no-mirror", action="store_true")
    b = sub.add_parser("bench")
    b.add_argument("model_folder")
    b.add_argument("--size", type=int, nargs="+", required=True)
    b.add_argument("--no-mirror", action="store_true")
    b.add_argument("--threads", type=int, default=0)
    b.add_argument("--device", default="cpu", help="cpu or cuda")
    b.add_argument("--fp16", action="store_true", help="half-precision network and input")
    b.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    return {"verify": cmd_verify, "predict": cmd_predict, "bench": cmd_bench}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
