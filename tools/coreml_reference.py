#!/usr/bin/env python3
"""Apple's converter on the same PyTorch modules medport converts, for bench/bench_coreml.sh only
(benchmark baseline; never the product path). Traces the module with torch.jit.trace and runs
coremltools.convert to an ML Program, printing the in-process seconds (load + trace + convert +
save) as the last line.

  coreml_reference.py nnunet MODEL_FOLDER OUT.mlpackage [--fp32]
      an nnU-Net v2 model folder (tools/nnunet_reference.py make-model), input (1, C, *patch)
  coreml_reference.py diffusion MODEL.pt OUT.mlpackage --size S [--fp32] [guided_diffusion_reference flags]
      a guided-diffusion state dict, inputs x (1, C, S, S) and t (1,) int32

Needs the test venv (coremltools) with Debian's torch 1.13 visible (--system-site-packages).
"""
import argparse
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["nnunet", "diffusion"])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--fp32", action="store_true")
    ap.add_argument("--size", type=int, default=256)
    args, rest = ap.parse_known_args()
    import coremltools as ct
    import numpy as np
    import torch

    torch.set_grad_enabled(False)
    start = time.perf_counter()
    if args.kind == "nnunet":
        import nnunet_reference as ref

        plans, dataset = ref.load_folder(args.model)
        ckpt = torch.load(os.path.join(args.model, "fold_0", "checkpoint_final.pth"), map_location="cpu")
        config = ckpt["init_args"]["configuration"]
        net = ref.network_from_plans(plans, dataset, config).eval()
        net.load_state_dict(ckpt["network_weights"], strict=True)
        del ckpt
        cfg = ref.resolve_configuration(plans, config)
        shape = (1, ref.num_inputs(dataset, cfg), *cfg["patch_size"])
        example = (torch.zeros(shape),)
        inputs = [ct.TensorType(name="input", shape=shape)]
        outputs = [ct.TensorType(name="logits")]
    else:
        import guided_diffusion_reference as gd

        p = argparse.ArgumentParser()
        gd.add_flags(p)
        flags = p.parse_args(rest)
        net = gd.UNet(flags).eval()
        net.load_state_dict(torch.load(args.model, map_location="cpu"), strict=True)
        shape = (1, flags.in_channels, args.size, args.size)
        example = (torch.zeros(shape), torch.zeros((1,), dtype=torch.int64))
        inputs = [ct.TensorType(name="x", shape=shape), ct.TensorType(name="t", shape=(1,), dtype=np.int32)]
        outputs = [ct.TensorType(name="out")]
    traced = torch.jit.trace(net, example)
    model = ct.convert(traced, inputs=inputs, outputs=outputs, convert_to="mlprogram",
                       minimum_deployment_target=ct.target.iOS15,
                       compute_precision=ct.precision.FLOAT32 if args.fp32 else ct.precision.FLOAT16)
    model.save(args.out)
    print(f"{time.perf_counter() - start:.2f}")


if __name__ == "__main__":
    main()
