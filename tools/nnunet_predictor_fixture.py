#!/usr/bin/python3
"""Raw-image parity cases made by nnU-Net v2's OWN predictor (not a restatement).

Runs nnunetv2's nnUNetPredictor.predict_single_npy_array (preprocessing with resampling, sliding
window with mirroring, export back to the input geometry) on small raw images whose spacing differs
from the model's target spacing, and writes for each case what `medport segment` must reproduce:

  OUT_DIR/<case>/image.npy       the raw image: (H, W), (Z, Y, X) or (C, H, W) for a 2-channel 2D model
  OUT_DIR/<case>/case.json       model folder, spacing (array order), the nnU-Net settings used
  OUT_DIR/<case>/expected.npz    'segmentation' (uint8, input shape) and 'probabilities'
                                 (float32, (K, *input shape)) as nnUNetPredictor returns them

Models: the shared fixtures camus2d_small (2D) and resenc3d_small (3D, residual encoder), and a
region-based 2D model generated here with tools/nnunet_reference.py (case
plain2d_nonlin_first_regions, written to OUT_DIR/regions2d_model; small enough to keep).

The upstream sources are NOT part of medport: pass their checkouts (nnUNet,
dynamic-network-architectures, acvl_utils, batchgenerators); nothing is copied from them.
Debian's python lacks some optional modules they import at module level; stubs for them are
installed in-process below (see STUBS), none is on the path the predictor runs:
  - torch._dynamo (torch 1.13 has none): OptimizedModule, for an isinstance check only
  - threadpoolctl: threadpool_limits as a no-op context manager (batchgenerators import)
  - SimpleITK, nibabel(.orientations): file readers never used by predict_single_npy_array
  - blosc2: NDArray for annotations/isinstance, Codec/Filter constants of the training dataset class
  - the trainer-class lookup: nnUNetTrainer's module imports the training stack
    (batchgeneratorsv2, not fetched); its build_network_architecture is get_network_from_plans
    with the plans' arch kwargs, which is what the stand-in calls.

  nnunet_predictor_fixture.py --nnunet DIR --dna DIR --acvl DIR --batchgenerators DIR
                              [--fixtures /work/shared/fixtures] OUT_DIR

Run with /usr/bin/python3 (torch 1.13). CPU, 2 threads; a few seconds per case.
"""
import argparse
import json
import os
import subprocess
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------- stubs

def install_stubs():
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    if not hasattr(torch, "_dynamo"):
        class OptimizedModule(torch.nn.Module):
            pass
        torch._dynamo = module("torch._dynamo", OptimizedModule=OptimizedModule)

    import contextlib

    @contextlib.contextmanager
    def threadpool_limits(*_args, **_kwargs):
        yield

    def missing(*_args, **_kwargs):
        raise RuntimeError("stub: not available in this environment")

    class Constants:
        def __getattr__(self, name):
            return name

    class NDArray:
        pass

    for name, attrs in {
        "threadpoolctl": dict(threadpool_limits=threadpool_limits),
        "SimpleITK": {},
        "nibabel": {},
        "nibabel.orientations": dict(io_orientation=missing, axcodes2ornt=missing, ornt_transform=missing),
        "blosc2": dict(ndarray=types.SimpleNamespace(NDArray=NDArray), Codec=Constants(), Filter=Constants(),
                       set_nthreads=lambda n: 1, open=missing, asarray=missing),
    }.items():
        try:
            __import__(name)
        except ImportError:
            module(name, **attrs)


STUBS = ["torch._dynamo", "threadpoolctl", "SimpleITK", "nibabel", "blosc2", "trainer class lookup"]


def make_predictor():
    from nnunetv2.inference import predict_from_raw_data as pfrd
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    class Trainer:
        @staticmethod
        def build_network_architecture(plans_manager, configuration_manager, num_input_channels,
                                       num_output_channels, enable_deep_supervision=True):
            return get_network_from_plans(configuration_manager.network_arch_class_name,
                                          configuration_manager.network_arch_init_kwargs,
                                          configuration_manager.network_arch_init_kwargs_req_import,
                                          num_input_channels, num_output_channels, allow_init=True,
                                          deep_supervision=enable_deep_supervision)

    def find_trainer(name):
        if name != "nnUNetTrainer":
            raise RuntimeError(f"only nnUNetTrainer checkpoints are supported here, got {name}")
        return Trainer

    pfrd.recursive_find_trainer_class_by_name = find_trainer
    return pfrd.nnUNetPredictor


# ----------------------------------------------------------------------------- cases

def sector_image(rng, shape, low=0, high=255):
    """A smooth blob image with noise, zero outside an ellipse (crop_to_nonzero has work to do)."""
    grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    r2 = sum((g / 0.85) ** 2 for g in grids)
    smooth = 0.5 + 0.5 * np.cos(3 * grids[-1]) * np.sin(2 * grids[-2] + 0.5)
    img = low + (high - low) * np.clip(0.6 * smooth + 0.4 * rng.uniform(size=shape), 0, 1)
    img[r2 > 1] = 0
    return img


def camus2d(rng, fixtures, out_dir):
    folder = os.path.join(fixtures, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d")
    image = sector_image(rng, (120, 96)).astype(np.uint8)
    return dict(model="fixtures:nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d", folder=folder,
                image=image, spacing=[0.5, 0.4], channels_first=False)


def resenc3d(rng, fixtures, out_dir):
    folder = os.path.join(fixtures, "nnunet/resenc3d_small/nnUNetTrainer__nnUNetPlans__3d_fullres")
    image = sector_image(rng, (12, 40, 36)).astype(np.uint8)
    return dict(model="fixtures:nnunet/resenc3d_small/nnUNetTrainer__nnUNetPlans__3d_fullres", folder=folder,
                image=image, spacing=[2.5, 1.0, 0.9], channels_first=False)


def regions2d(rng, fixtures, out_dir):
    model_dir = os.path.join(out_dir, "regions2d_model")
    subprocess.run([sys.executable, os.path.join(HERE, "nnunet_reference.py"), "make-case",
                    "plain2d_nonlin_first_regions", model_dir, "--seed", "7"], check=True, stdout=subprocess.DEVNULL)
    os.remove(os.path.join(model_dir, "forward.npz"))
    folder = os.path.join(model_dir, "nnUNetTrainer__nnUNetPlans__2d")
    t1 = sector_image(rng, (48, 40), 0, 800)
    t2 = sector_image(rng, (48, 40), 0, 300)
    t2[t1 == 0] = 0
    image = np.stack([t1, t2]).astype(np.float32)
    return dict(model="local:regions2d_model/nnUNetTrainer__nnUNetPlans__2d", folder=folder, image=image,
                spacing=[1.3, 0.8], channels_first=True)


CASES = {"camus2d": camus2d, "resenc3d": resenc3d, "regions2d": regions2d}


def nnunet_layout(case):
    """(C, Z, Y, X) and spacing as nnU-Net's readers give them (2D: one slice, 999 x max spacing)."""
    image, spacing = case["image"].astype(np.float32), list(case["spacing"])
    if len(spacing) == 2:
        image = image if case["channels_first"] else image[None]
        return image[:, None], [999.0 * max(spacing)] + spacing
    return image[None], spacing


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nnunet", required=True, help="checkout of MIC-DKFZ/nnUNet")
    ap.add_argument("--dna", required=True, help="checkout of MIC-DKFZ/dynamic-network-architectures")
    ap.add_argument("--acvl", required=True, help="checkout of MIC-DKFZ/acvl_utils")
    ap.add_argument("--batchgenerators", required=True, help="checkout of MIC-DKFZ/batchgenerators")
    ap.add_argument("--fixtures", default="/work/shared/fixtures")
    ap.add_argument("--cases", nargs="*", default=sorted(CASES))
    ap.add_argument("out_dir")
    args = ap.parse_args()

    sys.path[:0] = [args.nnunet, args.dna, args.acvl, args.batchgenerators]
    install_stubs()
    nnUNetPredictor = make_predictor()
    torch.set_num_threads(2)
    os.makedirs(args.out_dir, exist_ok=True)

    for name in args.cases:
        rng = np.random.default_rng(sorted(CASES).index(name) + 11)
        case = CASES[name](rng, args.fixtures, args.out_dir)
        predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=True,
                                    perform_everything_on_device=False, device=torch.device("cpu"),
                                    verbose=False, verbose_preprocessing=False, allow_tqdm=False)
        predictor.initialize_from_trained_model_folder(case["folder"], use_folds=(0,),
                                                       checkpoint_name="checkpoint_final.pth")
        data, spacing = nnunet_layout(case)
        seg, probs = predictor.predict_single_npy_array(data, {"spacing": spacing}, None, None, True)
        # 2D cases come back with their singleton slice axis; drop it to match the input array.
        if len(case["spacing"]) == 2:
            seg, probs = seg[0], probs[:, 0]
        case_dir = os.path.join(args.out_dir, name)
        os.makedirs(case_dir, exist_ok=True)
        np.save(os.path.join(case_dir, "image.npy"), case["image"])
        np.savez_compressed(os.path.join(case_dir, "expected.npz"), segmentation=seg.astype(np.uint8),
                            probabilities=probs.astype(np.float32))
        lm = predictor.label_manager
        meta = {"model": case["model"], "spacing": case["spacing"], "image_shape": list(case["image"].shape),
                "has_regions": bool(lm.has_regions),
                "regions_class_order": list(lm.regions_class_order) if lm.has_regions else None,
                "nnunet_settings": {"tile_step_size": 0.5, "use_gaussian": True, "use_mirroring": True,
                                    "device": "cpu", "folds": [0], "entry": "predict_single_npy_array",
                                    "nnunet_layout_spacing": spacing},
                "stubs": STUBS,
                "made_by": "tools/nnunet_predictor_fixture.py"}
        with open(os.path.join(case_dir, "case.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(name, seg.shape, np.bincount(seg.ravel().astype(np.int64)).tolist(), probs.shape)
    return 0


if __name__ == "__main__":
    sys.exit(main())
