#!/usr/bin/env python3
"""Reference checkpoints and outputs for the timm family tests (configurations the shared
fixtures do not cover): other members of the four families at reduced widths/depths, the ways
users save them (timm train.py, plain state dicts, DDP dicts, model_state_dict, safetensors,
fp16/bf16 weights, EMA weights) and non-default normalization. Runs timm itself (the pin in
tools/requirements-test.txt; needs Debian's python3-torchvision):

    .venv/bin/python tools/timm_reference.py tests/fixtures/timm

Each case folder gets the checkpoint, reference.npz (image (2, 3, H, W) uint8, logits, probs
computed by timm on the weights as stored, upcast to float32) and case.json (convert options and
the expected sidecar facts).
"""
import argparse
import json
import math
import os
import struct
import sys
from collections import OrderedDict

import numpy as np
import timm
import torch
from timm.models import efficientnet, mobilenetv3

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def randomize(model, seed):
    """Trained-looking parameters and BatchNorm statistics (timm initializes layer scale to 1e-6,
    BN to identity: a test on those would not see half the layers)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.8 + 0.3)
            elif p.dim() == 1 and name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=g) * 0.8 + 0.6)
            elif p.dim() == 1 and name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) * 1.5 + 0.5)
            elif name.endswith("num_batches_tracked"):
                b.fill_(1234)
    return model.eval()


def images(h, w, seed):
    g = np.random.default_rng(seed)
    noise = g.uniform(0, 255, size=(3, h, w))
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = np.stack([255 * xx / max(w - 1, 1), 255 * yy / max(h - 1, 1),
                       127.5 + 100 * np.sin(xx / 7.0) * np.cos(yy / 5.0)])
    return np.round(np.stack([noise, smooth])).astype(np.uint8)  # stored as uint8: whole numbers in 0..255


def cast(state, dtype):
    return OrderedDict((k, v.to(dtype) if v.is_floating_point() else v) for k, v in state.items())


def save_safetensors(path, state, metadata):
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    for k, v in state.items():
        raw = v.contiguous().view(torch.uint8).numpy().tobytes() if v.dtype == torch.bfloat16 else v.contiguous().numpy().tobytes()
        header[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def train_args(model_name, num_classes, **overrides):
    a = argparse.Namespace(model=model_name, num_classes=num_classes, img_size=None, input_size=None, crop_pct=None,
                           mean=None, std=None, interpolation="", model_ema=False, lr=0.05, epochs=3)
    for k, v in overrides.items():
        setattr(a, k, v)
    return a


def stored_float(state):
    return OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in state.items())


def write_case(root, name, model, state_as_saved, save, options, expect, size, mean, std, seed):
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    file_name = save(folder)
    model.load_state_dict(stored_float(state_as_saved))
    model.eval()
    x = images(size[0], size[1], seed)
    t = torch.from_numpy(x.astype(np.float32))
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = model((t / 255 - m) / s)
    np.savez_compressed(os.path.join(folder, "reference.npz"), image=x, logits=logits.numpy(),
                        probs=torch.softmax(logits, -1).numpy())
    expect = dict(expect, input_size=[3, size[0], size[1]], mean=list(mean), std=list(std),
                  num_classes=int(logits.shape[1]))
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump({"file": file_name, "options": options, "expect": expect, "timm": timm.__version__}, f, indent=1)
    print(name, file_name, sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)), "bytes")


def torch_saver(obj, file_name="model.pth"):
    def save(folder):
        torch.save(obj, os.path.join(folder, file_name))
        return file_name
    return save


def main(root):
    torch.manual_seed(0)
    cases = []

    # ResNet-D: deep stem, Bottleneck, average-pool downsampling; plain bf16 state dict + --arch.
    m = randomize(timm.create_model("resnet50d", layers=(1, 1, 1, 1), channels=(8, 16, 32, 64), stem_width=8,
                                    num_classes=3), 1)
    sd = cast(m.state_dict(), torch.bfloat16)
    write_case(root, "resnet50d_plain_bf16", m, sd, torch_saver(sd), {"arch": "resnet50d"},
               {"arch": "resnet50d", "normalization_source": "timm_default"}, (224, 224), IMAGENET_MEAN, IMAGENET_STD, 11)

    # ResNet-18 (BasicBlock, 7x7 stem, conv downsampling) as safetensors naming its arch in the
    # metadata; --mean/--std override everything.
    m = randomize(timm.create_model("resnet18", layers=(1, 2, 1, 1), channels=(8, 16, 32, 64), num_classes=2), 2)
    sd = m.state_dict()
    st = OrderedDict((k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    def save_st(folder):
        save_safetensors(os.path.join(folder, "model.safetensors"), st, {"arch": "resnet18"})
        return "model.safetensors"
    write_case(root, "resnet18_safetensors_mean", m, st, save_st, {"mean": "0.3,0.4,0.5", "std": "0.2"},
               {"arch": "resnet18", "normalization_source": "option"}, (224, 224), (0.3, 0.4, 0.5), (0.2, 0.2, 0.2), 12)

    # SE-ResNeXt with a tiered stem in a custom DDP loop's dict, class names included.
    m = randomize(timm.create_model("seresnext26t_32x4d", layers=(1, 1, 1, 1), channels=(8, 16, 32, 64),
                                    cardinality=4, base_width=16, num_classes=3), 3)
    sd = m.state_dict()
    ddp = {"model": OrderedDict(("module." + k, v) for k, v in sd.items()), "model_name": "seresnext26t_32x4d",
           "class_names": ["2CH", "4CH", "PLAX"], "epoch": 7}
    write_case(root, "seresnext26t_ddp", m, sd, torch_saver(ddp), {},
               {"arch": "seresnext26t_32x4d", "class_names": ["2CH", "4CH", "PLAX"],
                "normalization_source": "timm_default"}, (224, 224), IMAGENET_MEAN, IMAGENET_STD, 13)

    # TensorFlow-ported EfficientNet ("same" padding, BN eps 1e-3) from train.py with a
    # non-square odd input size and the run's own mean/std.
    m = randomize(efficientnet._gen_efficientnet("tf_efficientnet_b0", channel_multiplier=0.25, depth_multiplier=0.3,
                                                 bn_eps=1e-3, pad_type="same", num_classes=4), 4)
    sd = m.state_dict()
    ck = {"epoch": 3, "arch": "tf_efficientnet_b0", "state_dict": sd, "optimizer": {}, "version": 2,
          "args": train_args("tf_efficientnet_b0", 4, input_size=[3, 189, 171], mean=[0.4, 0.45, 0.5],
                             std=[0.25, 0.25, 0.3], interpolation="bilinear", crop_pct=0.9), "metric": 0.5}
    write_case(root, "tf_efficientnet_b0_train", m, sd, torch_saver(ck), {},
               {"arch": "tf_efficientnet_b0", "interpolation": "bilinear", "crop_pct": 0.9,
                "normalization_source": "training_args"}, (189, 171), (0.4, 0.45, 0.5), (0.25, 0.25, 0.3), 14)

    # EfficientNet-Lite (ReLU6, no SE) in {"model_state_dict": ...} with --classes.
    m = randomize(efficientnet._gen_efficientnet_lite("efficientnet_lite0", channel_multiplier=0.25,
                                                      depth_multiplier=0.3, num_classes=2), 5)
    sd = m.state_dict()
    def save_lite(folder):
        torch.save({"model_state_dict": sd, "epoch": 1}, os.path.join(folder, "model.pt"))
        with open(os.path.join(folder, "classes.txt"), "w") as f:
            f.write("good view\npoor view\n")
        return "model.pt"
    write_case(root, "efficientnet_lite0_msd", m, sd, save_lite, {"arch": "efficientnet_lite0", "classes": "classes.txt"},
               {"arch": "efficientnet_lite0", "class_names": ["good view", "poor view"],
                "normalization_source": "timm_default"}, (224, 224), IMAGENET_MEAN, IMAGENET_STD, 15)

    # MobileNetV3-Large from train.py with different EMA weights (--ema).
    m = randomize(mobilenetv3._gen_mobilenet_v3("mobilenetv3_large_100", 0.25, num_classes=3), 6)
    ema = randomize(mobilenetv3._gen_mobilenet_v3("mobilenetv3_large_100", 0.25, num_classes=3), 7)
    ema_sd = cast(ema.state_dict(), torch.float16)
    ck = {"epoch": 3, "arch": "mobilenetv3_large_100", "state_dict": cast(m.state_dict(), torch.float16),
          "optimizer": {}, "version": 2, "args": train_args("mobilenetv3_large_100", 3, model_ema=True), "metric": 0.5,
          "state_dict_ema": ema_sd}
    write_case(root, "mobilenetv3_large_train_ema", ema, ema_sd, torch_saver(ck), {"ema": "true"},
               {"arch": "mobilenetv3_large_100", "weights": "state_dict_ema", "normalization_source": "timm_default"},
               (224, 224), IMAGENET_MEAN, IMAGENET_STD, 16)

    # TensorFlow MobileNetV3-Small minimal (ReLU only, no SE), fp16 plain state dict.
    m = randomize(mobilenetv3._gen_mobilenet_v3("tf_mobilenetv3_small_minimal_100", 0.5, bn_eps=1e-3, pad_type="same",
                                                num_classes=5), 8)
    sd = cast(m.state_dict(), torch.float16)
    write_case(root, "tf_mobilenetv3_small_minimal_fp16", m, sd, torch_saver(sd), {"arch": "tf_mobilenetv3_small_minimal_100"},
               {"arch": "tf_mobilenetv3_small_minimal_100", "normalization_source": "timm_default"}, (224, 224),
               (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 17)

    # ConvNeXt-Tiny: Linear MLP, patch stem, a pre-logits head layer.
    m = randomize(timm.create_model("convnext_tiny", depths=(1, 1, 2, 1), dims=(8, 16, 32, 64), head_hidden_size=24,
                                    num_classes=3), 9)
    sd = m.state_dict()
    write_case(root, "convnext_tiny_prelogits", m, sd, torch_saver(sd), {"arch": "convnext_tiny"},
               {"arch": "convnext_tiny", "normalization_source": "timm_default"}, (224, 224), IMAGENET_MEAN,
               IMAGENET_STD, 18)

    # ConvNeXt with the overlapping tiered stem and the norm-first head (*_hnf layout on an _ols stem).
    m = randomize(timm.create_model("convnext_atto_ols", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64),
                                    head_norm_first=True, num_classes=2), 10)
    sd = m.state_dict()
    ck = {"epoch": 3, "arch": "convnext_atto_ols", "state_dict": sd, "optimizer": {}, "version": 2,
          "args": train_args("convnext_atto_ols", 2), "metric": 0.5}
    write_case(root, "convnext_atto_ols_hnf_train", m, sd, torch_saver(ck), {},
               {"arch": "convnext_atto_ols", "normalization_source": "timm_default"}, (224, 224), IMAGENET_MEAN,
               IMAGENET_STD, 19)

    # DeiT distilled (two heads averaged), fp16 weights.
    m = randomize(timm.create_model("deit_tiny_distilled_patch16_224", embed_dim=48, depth=2, num_classes=3), 20)
    sd = cast(m.state_dict(), torch.float16)
    write_case(root, "deit_tiny_distilled_fp16", m, sd, torch_saver(sd), {"arch": "deit_tiny_distilled_patch16_224"},
               {"arch": "deit_tiny_distilled_patch16_224", "normalization_source": "timm_default"}, (224, 224),
               IMAGENET_MEAN, IMAGENET_STD, 21)

    # ViT-Small with average pooling (fc_norm), a register token, 160 px position embeddings.
    m = randomize(timm.create_model("vit_small_patch16_224", embed_dim=48, depth=2, img_size=160, global_pool="avg",
                                    reg_tokens=1, num_classes=4), 22)
    sd = m.state_dict()
    write_case(root, "vit_small_avg_reg_160", m, sd, torch_saver({"state_dict": sd}),
               {"arch": "vit_small_patch16_224.augreg_in21k_ft_in1k"},
               {"arch": "vit_small_patch16_224", "normalization_source": "timm_default"}, (160, 160), (0.5, 0.5, 0.5),
               (0.5, 0.5, 0.5), 23)

    # DeiT III: position embeddings without the class token, layer scale.
    m = randomize(timm.create_model("deit3_small_patch16_224", embed_dim=48, depth=2, num_classes=2), 24)
    sd = m.state_dict()
    ck = {"epoch": 3, "arch": "deit3_small_patch16_224", "state_dict": sd, "optimizer": {}, "version": 2,
          "args": train_args("deit3_small_patch16_224", 2), "metric": 0.5}
    write_case(root, "deit3_small_train", m, sd, torch_saver(ck), {},
               {"arch": "deit3_small_patch16_224", "normalization_source": "timm_default"}, (224, 224), IMAGENET_MEAN,
               IMAGENET_STD, 25)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/timm")
