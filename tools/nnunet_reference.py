#!/usr/bin/python3
"""PyTorch reference for nnU-Net v2 networks (PlainConvUNet, ResidualEncoderUNet).

Written from the dynamic_network_architectures v0.4 semantics (that package is not installed
here): same module tree, hence the same state_dict keys, including the `.all_modules.N` and
`decoder.encoder.*` aliases. Used by medport's tests and benchmark:

  verify MODEL_FOLDER FORWARD_NPZ         reproduce a fixture's forward.npz from its checkpoint
  make-case NAME OUT_DIR                  write an nnU-Net v2 model folder + forward.npz for one of
                                          the generated configurations (see CASES)
  make-model PLANS_DIR OUT_DIR [--config C] [--seed S]
                                          random weights for an existing plans.json/dataset.json
  forward MODEL_FOLDER OUT.npz [--batch B] [--seed S]
                                          input_0 (patch size) -> logits_0 of fold 0's checkpoint
  export-onnx MODEL_FOLDER OUT.onnx       torch.onnx.export of the same network (benchmark)
  count-params PLANS_DIR [--config C]
  mutate CKPT OUT [--drop KEY] [--add KEY] [--reshape KEY]
                                          a damaged copy of a checkpoint (error-path tests)

Run with /usr/bin/python3 (torch 1.13).
"""
import argparse
import copy
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

# ----------------------------------------------------------------------------- building blocks

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
TRANSP = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
AVGPOOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}


def short_name(qualified):
    return None if qualified is None else qualified.split(".")[-1]


def make_norm(name, channels, kwargs):
    kwargs = dict(kwargs or {})
    table = {"InstanceNorm1d": nn.InstanceNorm1d, "InstanceNorm2d": nn.InstanceNorm2d,
             "InstanceNorm3d": nn.InstanceNorm3d, "BatchNorm1d": nn.BatchNorm1d,
             "BatchNorm2d": nn.BatchNorm2d, "BatchNorm3d": nn.BatchNorm3d}
    return table[short_name(name)](channels, **kwargs)


def make_nonlin(name, kwargs):
    kwargs = dict(kwargs or {})
    kwargs.pop("inplace", None)
    return {"LeakyReLU": nn.LeakyReLU, "ReLU": nn.ReLU}[short_name(name)](**kwargs)


def make_dropout(name, kwargs):
    kwargs = dict(kwargs or {})
    kwargs.pop("inplace", None)
    return {"Dropout": nn.Dropout, "Dropout1d": nn.Dropout, "Dropout2d": nn.Dropout2d,
            "Dropout3d": nn.Dropout3d}[short_name(name)](**kwargs)


class Ops:
    """The shared layer choices of one network (what arch_kwargs name)."""

    def __init__(self, kw):
        self.dim = int(short_name(kw["conv_op"])[-2])
        self.conv_bias = bool(kw.get("conv_bias", False))
        self.norm_op, self.norm_kwargs = kw.get("norm_op"), kw.get("norm_op_kwargs")
        self.dropout_op, self.dropout_kwargs = kw.get("dropout_op"), kw.get("dropout_op_kwargs")
        self.nonlin, self.nonlin_kwargs = kw.get("nonlin"), kw.get("nonlin_kwargs")


class ConvDropoutNormReLU(nn.Module):
    def __init__(self, ops, cin, cout, kernel, stride, bias, with_dropout=True, with_nonlin=True,
                 nonlin_first=False):
        super().__init__()
        kernel = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel] * ops.dim
        stride = list(stride) if isinstance(stride, (list, tuple)) else [stride] * ops.dim
        seq = []
        self.conv = CONV[ops.dim](cin, cout, kernel, stride, padding=[(k - 1) // 2 for k in kernel],
                                  dilation=1, bias=bias)
        seq.append(self.conv)
        if with_dropout and ops.dropout_op is not None:
            self.dropout = make_dropout(ops.dropout_op, ops.dropout_kwargs)
            seq.append(self.dropout)
        if ops.norm_op is not None:
            self.norm = make_norm(ops.norm_op, cout, ops.norm_kwargs)
            seq.append(self.norm)
        if with_nonlin and ops.nonlin is not None:
            self.nonlin = make_nonlin(ops.nonlin, ops.nonlin_kwargs)
            seq.append(self.nonlin)
        if nonlin_first and ops.norm_op is not None and with_nonlin and ops.nonlin is not None:
            seq[-1], seq[-2] = seq[-2], seq[-1]
        self.all_modules = nn.Sequential(*seq)

    def forward(self, x):
        return self.all_modules(x)


class StackedConvBlocks(nn.Module):
    def __init__(self, ops, n, cin, cout, kernel, stride, nonlin_first=False):
        super().__init__()
        blocks = [ConvDropoutNormReLU(ops, cin, cout, kernel, stride, ops.conv_bias, nonlin_first=nonlin_first)]
        blocks += [ConvDropoutNormReLU(ops, cout, cout, kernel, 1, ops.conv_bias, nonlin_first=nonlin_first)
                   for _ in range(1, n)]
        self.convs = nn.Sequential(*blocks)

    def forward(self, x):
        return self.convs(x)


class PlainConvEncoder(nn.Module):
    def __init__(self, ops, cin, kw, nonlin_first):
        super().__init__()
        stages = []
        for s in range(kw["n_stages"]):
            cout = kw["features_per_stage"][s]
            stages.append(nn.Sequential(StackedConvBlocks(ops, kw["n_conv_per_stage"][s], cin, cout,
                                                          kw["kernel_sizes"][s], kw["strides"][s], nonlin_first)))
            cin = cout
        self.stages = nn.Sequential(*stages)

    def forward(self, x):
        skips = []
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        return skips


class Identity(nn.Module):
    def forward(self, x):
        return x


class BasicBlockD(nn.Module):
    def __init__(self, ops, cin, cout, kernel, stride):
        super().__init__()
        stride = list(stride) if isinstance(stride, (list, tuple)) else [stride] * ops.dim
        self.conv1 = ConvDropoutNormReLU(ops, cin, cout, kernel, stride, ops.conv_bias)
        self.conv2 = ConvDropoutNormReLU(ops, cout, cout, kernel, 1, ops.conv_bias, with_dropout=False,
                                         with_nonlin=False)
        self.nonlin2 = make_nonlin(ops.nonlin, ops.nonlin_kwargs) if ops.nonlin is not None else Identity()
        has_stride = any(s != 1 for s in stride)
        if has_stride or cin != cout:
            seq = []
            if has_stride:
                seq.append(AVGPOOL[ops.dim](stride, stride))
            if cin != cout:
                seq.append(ConvDropoutNormReLU(ops, cin, cout, 1, 1, False, with_dropout=False, with_nonlin=False))
            self.skip = nn.Sequential(*seq)
        else:
            self.skip = Identity()

    def forward(self, x):
        residual = self.skip(x)
        out = self.conv2(self.conv1(x))
        out = out + residual
        return self.nonlin2(out)


class StackedResidualBlocks(nn.Module):
    def __init__(self, ops, n, cin, cout, kernel, stride):
        super().__init__()
        self.blocks = nn.Sequential(BasicBlockD(ops, cin, cout, kernel, stride),
                                    *[BasicBlockD(ops, cout, cout, kernel, 1) for _ in range(1, n)])

    def forward(self, x):
        return self.blocks(x)


class ResidualEncoder(nn.Module):
    def __init__(self, ops, cin, kw):
        super().__init__()
        stem_channels = kw.get("stem_channels") or kw["features_per_stage"][0]
        self.stem = StackedConvBlocks(ops, 1, cin, stem_channels, kw["kernel_sizes"][0], 1)
        cin = stem_channels
        stages = []
        for s in range(kw["n_stages"]):
            cout = kw["features_per_stage"][s]
            stages.append(StackedResidualBlocks(ops, kw["n_blocks_per_stage"][s], cin, cout, kw["kernel_sizes"][s],
                                                kw["strides"][s]))
            cin = cout
        self.stages = nn.Sequential(*stages)

    def forward(self, x):
        x = self.stem(x)
        skips = []
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        return skips


class UNetDecoder(nn.Module):
    def __init__(self, encoder, ops, kw, num_classes, deep_supervision, nonlin_first):
        super().__init__()
        self.deep_supervision = deep_supervision
        self.encoder = encoder  # registered twice on purpose: upstream's decoder.encoder.* keys
        feats, strides, kernels = kw["features_per_stage"], kw["strides"], kw["kernel_sizes"]
        n = kw["n_stages"]
        ncd = kw["n_conv_per_stage_decoder"]
        if isinstance(ncd, int):
            ncd = [ncd] * (n - 1)
        stages, transp, segs = [], [], []
        for s in range(1, n):
            below, skip = feats[-s], feats[-(s + 1)]
            st = strides[-s]
            transp.append(TRANSP[ops.dim](below, skip, st, st, bias=ops.conv_bias))
            stages.append(StackedConvBlocks(ops, ncd[s - 1], 2 * skip, skip, kernels[-(s + 1)], 1, nonlin_first))
            segs.append(CONV[ops.dim](skip, num_classes, 1, 1, 0, bias=True))
        self.stages = nn.ModuleList(stages)
        self.transpconvs = nn.ModuleList(transp)
        self.seg_layers = nn.ModuleList(segs)

    def forward(self, skips):
        x = skips[-1]
        outs = []
        for s in range(len(self.stages)):
            x = self.transpconvs[s](x)
            x = torch.cat((x, skips[-(s + 2)]), 1)
            x = self.stages[s](x)
            if self.deep_supervision:
                outs.append(self.seg_layers[s](x))
            elif s == len(self.stages) - 1:
                outs.append(self.seg_layers[-1](x))
        outs = outs[::-1]
        return outs if self.deep_supervision else outs[0]


class UNet(nn.Module):
    def __init__(self, class_name, kw, input_channels, num_classes, deep_supervision=False):
        super().__init__()
        kw = dict(kw)
        n = kw["n_stages"]
        for key in ("kernel_sizes", "strides"):
            if isinstance(kw[key], int):
                kw[key] = [kw[key]] * n
        if isinstance(kw["features_per_stage"], int):
            kw["features_per_stage"] = [kw["features_per_stage"]] * n
        ops = Ops(kw)
        short = short_name(class_name)
        if short == "PlainConvUNet":
            if isinstance(kw["n_conv_per_stage"], int):
                kw["n_conv_per_stage"] = [kw["n_conv_per_stage"]] * n
            nonlin_first = bool(kw.get("nonlin_first", False))
            self.encoder = PlainConvEncoder(ops, input_channels, kw, nonlin_first)
        elif short == "ResidualEncoderUNet":
            if isinstance(kw["n_blocks_per_stage"], int):
                kw["n_blocks_per_stage"] = [kw["n_blocks_per_stage"]] * n
            nonlin_first = False  # upstream's ResidualEncoderUNet has no nonlin_first argument
            self.encoder = ResidualEncoder(ops, input_channels, kw)
        else:
            raise SystemExit(f"unsupported network class {class_name}")
        self.decoder = UNetDecoder(self.encoder, ops, kw, num_classes, deep_supervision, nonlin_first)

    def forward(self, x):
        return self.decoder(self.encoder(x))


# ----------------------------------------------------------------------------- plans handling

def resolve_configuration(plans, name):
    configs = plans["configurations"]
    cfg = copy.deepcopy(configs[name])
    if "inherits_from" in cfg:
        base = resolve_configuration(plans, cfg["inherits_from"])
        base.update(cfg)
        cfg = base
    return cfg


def all_label_values(labels):
    values = set()
    for k, v in labels.items():
        if k == "ignore":
            continue
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            values.add(int(x))
    return values


def num_heads(dataset):
    labels = dataset["labels"]
    regions = [v for k, v in labels.items() if k != "ignore" and isinstance(v, (list, tuple)) and len(v) > 1]
    if regions:
        fg = [v for k, v in labels.items() if k != "ignore" and not (
            (not isinstance(v, (list, tuple)) and v == 0) or
            (isinstance(v, (list, tuple)) and len(set(v)) == 1 and list(v)[0] == 0))]
        return len(fg)
    return len(all_label_values(labels))


def num_inputs(dataset, cfg):
    n = len(dataset["modality"]) if "modality" in dataset else len(dataset["channel_names"])
    if cfg.get("previous_stage"):
        n += len(all_label_values(dataset["labels"]) - {0})
    return n


def network_from_plans(plans, dataset, config, deep_supervision=False):
    cfg = resolve_configuration(plans, config)
    arch = cfg["architecture"]
    return UNet(arch["network_class_name"], arch["arch_kwargs"], num_inputs(dataset, cfg), num_heads(dataset),
                deep_supervision)


def load_folder(folder):
    with open(os.path.join(folder, "plans.json")) as f:
        plans = json.load(f)
    with open(os.path.join(folder, "dataset.json")) as f:
        dataset = json.load(f)
    return plans, dataset


def config_of_folder(folder, plans):
    base = os.path.basename(os.path.normpath(folder))
    config = base.split("__")[-1]
    if config in plans["configurations"]:
        return config
    return next(iter(plans["configurations"]))


# ----------------------------------------------------------------------------- commands

def cmd_verify(args):
    plans, dataset = load_folder(args.model_folder)
    ckpt = torch.load(os.path.join(args.model_folder, "fold_0", "checkpoint_final.pth"), map_location="cpu")
    config = ckpt["init_args"]["configuration"]
    ref = np.load(args.forward_npz)
    worst = 0.0
    for ds in (False, True):
        net = network_from_plans(plans, dataset, config, deep_supervision=ds)
        missing = net.load_state_dict(ckpt["network_weights"], strict=True)
        assert not missing.missing_keys and not missing.unexpected_keys
        net.eval()
        with torch.no_grad():
            for key in ref.files:
                if not key.startswith("input_"):
                    continue
                i = key.split("_")[1]
                out = net(torch.from_numpy(ref[key]))
                if not ds:
                    err = float(np.abs(out.numpy() - ref["logits_" + i]).max())
                    print(f"logits_{i}: max abs err {err:.3g}")
                    worst = max(worst, err)
                elif i == "0":
                    for j, o in enumerate(out):
                        err = float(np.abs(o.numpy() - ref[f"deep_supervision_{j}"]).max())
                        print(f"deep_supervision_{j}: max abs err {err:.3g}")
                        worst = max(worst, err)
    print(f"worst {worst:.3g}")
    return 0 if worst <= 1e-5 else 1


def base_plans(dim, patch, spacing, n_channels):
    return {
        "dataset_name": "DatasetGenerated", "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [1.0] * 3,
        "original_median_shape_after_transp": [1] * (3 - dim) + list(patch),
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2], "transpose_backward": [0, 1, 2],
        "experiment_planner_used": "ExperimentPlanner", "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {
            str(c): {"max": 1000.0 + c, "mean": 100.0 + c, "median": 90.0 + c, "min": -10.0 - c,
                     "percentile_00_5": -5.0 - c, "percentile_99_5": 900.0 + c, "std": 50.0 + c}
            for c in range(n_channels)},
    }


def configuration(name, dim, patch, spacing, class_name, kw, n_channels):
    schemes = ["CTNormalization"] + ["ZScoreNormalization"] * (n_channels - 1)
    return {
        "data_identifier": "nnUNetPlans_" + name, "preprocessor_name": "DefaultPreprocessor", "batch_size": 2,
        "patch_size": list(patch), "median_image_size_in_voxels": [int(p * 1.5) for p in patch],
        "spacing": list(spacing), "normalization_schemes": schemes[:n_channels],
        "use_mask_for_norm": [False] * n_channels,
        "resampling_fn_data": "resample_data_or_seg_to_shape", "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
        "architecture": {"network_class_name": "dynamic_network_architectures.architectures.unet." + class_name,
                         "arch_kwargs": kw,
                         "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"]},
        "batch_dice": True,
    }


def arch(dim, feats, kernels, strides, per_stage_key, per_stage, decoder, conv_bias=True, affine=True, eps=1e-5,
         slope=None, dropout=None, nonlin="torch.nn.LeakyReLU", nonlin_first=None, norm="instancenorm.InstanceNorm"):
    kw = {
        "n_stages": len(feats), "features_per_stage": feats,
        "conv_op": f"torch.nn.modules.conv.Conv{dim}d", "kernel_sizes": kernels, "strides": strides,
        "n_conv_per_stage_decoder": decoder, "conv_bias": conv_bias,
        "norm_op": f"torch.nn.modules.{norm}{dim}d",
        "norm_op_kwargs": {"eps": eps, "affine": affine},
        "dropout_op": None if dropout is None else f"torch.nn.modules.dropout.Dropout{dim}d",
        "dropout_op_kwargs": None if dropout is None else {"p": dropout, "inplace": True},
        "nonlin": nonlin, "nonlin_kwargs": {"inplace": True} if slope is None else {"negative_slope": slope,
                                                                                   "inplace": True},
        per_stage_key: per_stage,
    }
    if nonlin_first is not None:
        kw["nonlin_first"] = nonlin_first
    return kw


# Unseen configurations: each differs from the fixtures in the ways the brief lists.
CASES = {
    # 2D residual encoder, 3 input channels, bias off, non-affine norms, slope 0.2
    "resenc2d_rgb": dict(
        dim=2, patch=(64, 48), spacing=(0.5, 0.7), channels=["R", "G", "B"], config="2d",
        labels={"background": 0, "a": 1, "b": 2, "c": 3, "d": 4},
        cls="ResidualEncoderUNet",
        kw=arch(2, [6, 12, 24, 24], [[3, 3], [3, 3], [3, 3], [3, 3]], [[1, 1], [2, 2], [2, 2], [2, 2]],
                "n_blocks_per_stage", [1, 2, 3, 1], [1, 2, 1], conv_bias=False, affine=False, slope=0.2),
        sizes=[(64, 48), (32, 80)], batch=2),
    # 3D plain, anisotropic kernels/strides, 2 channels, dropout (shifts all_modules ids), 3 convs/stage
    "plain3d_aniso_dropout": dict(
        dim=3, patch=(8, 32, 24), spacing=(4.0, 0.9, 0.9), channels=["CT", "PET"], config="3d_fullres",
        labels={"background": 0, "tumour": 1, "organ": 2},
        cls="PlainConvUNet",
        kw=arch(3, [4, 8, 12, 16], [[1, 3, 3], [1, 3, 3], [3, 3, 3], [3, 3, 1]],
                [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 1]], "n_conv_per_stage", [3, 1, 2, 2], [1, 3, 2],
                dropout=0.2, eps=1e-3),
        sizes=[(8, 32, 24), (4, 16, 40)], batch=1),
    # 2D plain, nonlin first, ReLU, no bias, kernel 5 in the first stage, regions
    "plain2d_nonlin_first_regions": dict(
        dim=2, patch=(32, 32), spacing=(1.0, 1.0), channels=["T1", "T2"], config="2d",
        labels={"background": 0, "whole": [1, 2, 3], "core": [2, 3], "enhancing": 3},
        regions_class_order=[1, 2, 3],
        cls="PlainConvUNet",
        kw=arch(2, [5, 10, 20], [[5, 5], [3, 3], [3, 3]], [[1, 1], [2, 2], [2, 2]], "n_conv_per_stage", [2, 2, 2],
                [2, 2], conv_bias=False, nonlin="torch.nn.ReLU", nonlin_first=True),
        sizes=[(32, 32), (16, 24)], batch=2),
    # 3D residual encoder, leaky slope 0.1, stride-1 stage with channel change (skip.0 projection)
    "resenc3d_projection": dict(
        dim=3, patch=(16, 16, 16), spacing=(1.0, 1.0, 1.0), channels=["MR"], config="3d_fullres",
        labels={"background": 0, "x": 1},
        cls="ResidualEncoderUNet",
        kw=arch(3, [4, 6, 8, 8], [[3, 3, 3]] * 4, [[1, 1, 1], [1, 1, 1], [2, 2, 2], [2, 2, 2]],
                "n_blocks_per_stage", [2, 1, 2, 1], [1, 1, 2], slope=0.1),
        sizes=[(16, 16, 16), (8, 12, 4)], batch=1),
    # 2D plain with BatchNorm (running statistics used at inference), 2 stages only
    "plain2d_batchnorm": dict(
        dim=2, patch=(16, 16), spacing=(1.0, 1.0), channels=["X"], config="2d",
        labels={"background": 0, "a": 1, "b": 2},
        cls="PlainConvUNet",
        kw=arch(2, [6, 12], [[3, 3], [3, 3]], [[1, 1], [2, 2]], "n_conv_per_stage", [1, 2], [1],
                norm="batchnorm.BatchNorm", eps=1e-3),
        sizes=[(16, 16), (8, 30)], batch=3),
}


def randomize(net, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.3 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
        for name, p in net.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = max(1, p[0].numel())
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)


def trainer_checkpoint(net, plans, dataset, config, mirroring):
    sd = net.state_dict()
    opt_state = {i: {"momentum_buffer": torch.zeros_like(p)} for i, p in enumerate(net.parameters())}
    return {
        "network_weights": sd,
        "optimizer_state": {"state": opt_state, "param_groups": [{
            "lr": 1e-2, "momentum": 0.99, "dampening": 0, "weight_decay": 3e-5, "nesterov": True,
            "maximize": False, "foreach": None, "differentiable": False,
            "params": list(range(len(opt_state)))}]},
        "grad_scaler_state": None,
        "logging": {"mean_fg_dice": [np.float64(0.5)], "ema_fg_dice": [np.float64(0.5)],
                    "dice_per_class_or_region": [[0.5]], "train_losses": [np.float32(-0.4)],
                    "val_losses": [np.float32(-0.3)], "lrs": [0.01], "epoch_start_timestamps": [0.0],
                    "epoch_end_timestamps": [1.0]},
        "_best_ema": np.float64(0.5),
        "current_epoch": 1000,
        "init_args": {"plans": plans, "configuration": config, "fold": 0, "dataset_json": dataset,
                      "device": torch.device("cpu")},
        "trainer_name": "nnUNetTrainer",
        "inference_allowed_mirroring_axes": tuple(range(len(resolve_configuration(plans, config)["patch_size"]))),
    }


def write_model_folder(out_dir, plans, dataset, config, net, folds=(0,)):
    folder = os.path.join(out_dir, f"nnUNetTrainer__nnUNetPlans__{config}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "plans.json"), "w") as f:
        json.dump(plans, f, indent=1)
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump(dataset, f, indent=1)
    for fold in folds:
        os.makedirs(os.path.join(folder, f"fold_{fold}"), exist_ok=True)
        ckpt = trainer_checkpoint(net, plans, dataset, config, None)
        ckpt["init_args"]["fold"] = fold
        torch.save(ckpt, os.path.join(folder, f"fold_{fold}", "checkpoint_final.pth"))
    return folder


def cmd_make_case(args):
    case = CASES[args.name]
    torch.manual_seed(args.seed)
    dim, config = case["dim"], case["config"]
    channels = case["channels"]
    plans = base_plans(dim, case["patch"], case["spacing"], len(channels))
    plans["dataset_name"] = "Dataset" + args.name
    plans["configurations"] = {config: configuration(config, dim, case["patch"], case["spacing"], case["cls"],
                                                     case["kw"], len(channels))}
    dataset = {"channel_names": {str(i): c for i, c in enumerate(channels)}, "labels": case["labels"],
               "numTraining": 10, "file_ending": ".nii.gz"}
    if "regions_class_order" in case:
        dataset["regions_class_order"] = case["regions_class_order"]
    net = network_from_plans(plans, dataset, config)
    randomize(net, args.seed)
    net.eval()
    folder = write_model_folder(args.out_dir, plans, dataset, config, net)
    arrays = {}
    g = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        for i, size in enumerate(case["sizes"]):
            x = torch.randn((case["batch"], len(channels), *size), generator=g)
            arrays[f"input_{i}"] = x.numpy()
            arrays[f"logits_{i}"] = net(x).numpy()
        net.decoder.deep_supervision = True
        for j, o in enumerate(net(torch.from_numpy(arrays["input_0"]))):
            arrays[f"deep_supervision_{j}"] = o.numpy()
    np.savez(os.path.join(args.out_dir, "forward.npz"), **arrays)
    print(folder)
    return 0


def cmd_make_model(args):
    plans, dataset = load_folder(args.plans_dir)
    config = args.config or config_of_folder(args.plans_dir, plans)
    net = network_from_plans(plans, dataset, config)
    randomize(net, args.seed)
    folder = write_model_folder(args.out_dir, plans, dataset, config, net, folds=tuple(args.folds))
    print(folder)
    return 0


def count_unique(net):
    return sum(p.numel() for p in net.parameters())


def cmd_count_params(args):
    plans, dataset = load_folder(args.plans_dir)
    config = args.config or config_of_folder(args.plans_dir, plans)
    print(count_unique(network_from_plans(plans, dataset, config)))
    return 0


def cmd_export_onnx(args):
    plans, dataset = load_folder(args.model_folder)
    t0 = time.perf_counter()
    ckpt = torch.load(os.path.join(args.model_folder, f"fold_{args.fold}", "checkpoint_final.pth"),
                      map_location="cpu")
    config = ckpt["init_args"]["configuration"]
    net = network_from_plans(plans, dataset, config)
    net.load_state_dict(ckpt["network_weights"])
    net.eval()
    cfg = resolve_configuration(plans, config)
    x = torch.zeros((1, num_inputs(dataset, cfg), *cfg["patch_size"]))
    spatial = {i + 2: f"s{i}" for i in range(len(cfg["patch_size"]))}
    torch.onnx.export(net, x, args.out, opset_version=args.opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch", **spatial}, "logits": {0: "batch", **spatial}})
    print(f"{time.perf_counter() - t0:.3f}")
    return 0


def cmd_forward(args):
    plans, dataset = load_folder(args.model_folder)
    ckpt = torch.load(os.path.join(args.model_folder, "fold_0", "checkpoint_final.pth"), map_location="cpu")
    config = ckpt["init_args"]["configuration"]
    net = network_from_plans(plans, dataset, config)
    net.load_state_dict(ckpt["network_weights"])
    net.eval()
    cfg = resolve_configuration(plans, config)
    g = torch.Generator().manual_seed(args.seed)
    x = torch.randn((args.batch, num_inputs(dataset, cfg), *cfg["patch_size"]), generator=g)
    with torch.no_grad():
        y = net(x)
    np.savez(args.out, input_0=x.numpy(), logits_0=y.numpy())
    return 0


def cmd_mutate(args):
    ckpt = torch.load(args.checkpoint, map_location="cpu")
    sd = ckpt["network_weights"]
    for key in args.drop:
        del sd[key]
    for key in args.add:
        sd[key] = torch.zeros(3)
    for key in args.reshape:
        t = sd[key]
        sd[key] = torch.zeros((t.shape[0] + 1,) + tuple(t.shape[1:]))
    torch.save(ckpt, args.out)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("model_folder")
    v.add_argument("forward_npz")
    m = sub.add_parser("make-case")
    m.add_argument("name", choices=sorted(CASES))
    m.add_argument("out_dir")
    m.add_argument("--seed", type=int, default=1234)
    mm = sub.add_parser("make-model")
    mm.add_argument("plans_dir")
    mm.add_argument("out_dir")
    mm.add_argument("--config")
    mm.add_argument("--seed", type=int, default=0)
    mm.add_argument("--folds", type=int, nargs="+", default=[0])
    c = sub.add_parser("count-params")
    c.add_argument("plans_dir")
    c.add_argument("--config")
    e = sub.add_parser("export-onnx")
    e.add_argument("model_folder")
    e.add_argument("out")
    e.add_argument("--fold", type=int, default=0)
    e.add_argument("--opset", type=int, default=17)
    fw = sub.add_parser("forward")
    fw.add_argument("model_folder")
    fw.add_argument("out")
    fw.add_argument("--batch", type=int, default=1)
    fw.add_argument("--seed", type=int, default=0)
    mu = sub.add_parser("mutate")
    mu.add_argument("checkpoint")
    mu.add_argument("out")
    mu.add_argument("--drop", nargs="*", default=[])
    mu.add_argument("--add", nargs="*", default=[])
    mu.add_argument("--reshape", nargs="*", default=[])
    args = p.parse_args()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    return {"verify": cmd_verify, "make-case": cmd_make_case, "make-model": cmd_make_model,
            "count-params": cmd_count_params, "export-onnx": cmd_export_onnx,
            "mutate": cmd_mutate, "forward": cmd_forward}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
