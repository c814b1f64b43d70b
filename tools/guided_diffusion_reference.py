#!/usr/bin/python3
"""PyTorch reference of the guided-diffusion UNetModel (openai/guided-diffusion unet.py, as vendored
by RePaint / EchoGAINS), written from its documented semantics for medport's tests.

Same module tree, hence the same state_dict keys. Eval mode only (no dropout, no checkpointing).

  verify MODEL.pt FORWARD.npz [flags]   reproduce forward.npz (x, t -> out); prints the error
  make-case OUT_DIR [flags] [--seed S] [--batch B] [--size P]
                                        random weights (every layer non-zero) -> OUT_DIR/model.pt,
                                        OUT_DIR/forward.npz and OUT_DIR/config.json
  count-params [flags]

flags: --model-channels --in-channels --out-channels --num-res-blocks --channel-mult 1,2,2
       --attention-ds 2,4 (downsampling factors with attention) --num-heads --num-head-channels
       --new-attention-order --no-scale-shift --resblock-updown --num-classes

Run with /usr/bin/python3 (torch 1.13).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


class GroupNorm32(nn.GroupNorm):
    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)


def norm(channels):
    return GroupNorm32(32, channels)


def sinusoidal_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(0, half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


class Down(nn.Module):
    def __init__(self, channels, with_conv, out_channels=None):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.op = nn.Conv2d(channels, out_channels or channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x) if self.with_conv else F.avg_pool2d(x, 2, 2)


class Up(nn.Module):
    def __init__(self, channels, with_conv, out_channels=None):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(channels, out_channels or channels, 3, padding=1)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(x) if self.with_conv else x


class ResBlock(nn.Module):
    def __init__(self, cin, emb_dim, cout, scale_shift, up=False, down=False):
        super().__init__()
        self.scale_shift = scale_shift
        self.in_layers = nn.Sequential(norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.updown = up or down
        if up:
            self.h_upd, self.x_upd = Up(cin, False), Up(cin, False)
        elif down:
            self.h_upd, self.x_upd = Down(cin, False), Down(cin, False)
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * cout if scale_shift else cout))
        self.out_layers = nn.Sequential(norm(cout), nn.SiLU(), nn.Dropout(0.0), nn.Conv2d(cout, cout, 3, padding=1))
        self.skip_connection = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, emb):
        if self.updown:
            h = self.in_layers[:-1](x)
            h = self.h_upd(h)
            x = self.x_upd(x)
            h = self.in_layers[-1](h)
        else:
            h = self.in_layers(x)
        e = self.emb_layers(emb).type(h.dtype)[..., None, None]
        if self.scale_shift:
            scale, shift = torch.chunk(e, 2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[1:](h)
        else:
            h = self.out_layers(h + e)
        return self.skip_connection(x) + h


class Attention(nn.Module):
    def __init__(self, channels, num_heads, num_head_channels, new_order):
        super().__init__()
        self.heads = num_heads if num_head_channels == -1 else channels // num_head_channels
        self.new_order = new_order
        self.norm = norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = nn.Conv1d(channels, channels, 1)

    def attend(self, qkv):
        bs, width, length = qkv.shape
        ch = width // (3 * self.heads)
        scale = 1 / math.sqrt(math.sqrt(ch))
        if self.new_order:
            q, k, v = qkv.chunk(3, dim=1)
            q = q.reshape(bs * self.heads, ch, length)
            k = k.reshape(bs * self.heads, ch, length)
            v = v.reshape(bs * self.heads, ch, length)
        else:  # legacy: each head owns a contiguous [q|k|v] block of rows
            q, k, v = qkv.reshape(bs * self.heads, 3 * ch, length).split(ch, dim=1)
        w = torch.bmm((q * scale).transpose(1, 2), k * scale)  # [b, t, s]
        w = torch.softmax(w.float(), dim=-1).type(w.dtype)
        a = torch.bmm(v, w.transpose(1, 2))  # [b, c, t]
        return a.reshape(bs, -1, length)

    def forward(self, x):
        b, c, *spatial = x.shape
        x = x.reshape(b, c, -1)
        h = self.proj_out(self.attend(self.qkv(self.norm(x))))
        return (x + h).reshape(b, c, *spatial)


class Seq(nn.ModuleList):
    def forward(self, x, emb):
        for layer in self:
            x = layer(x, emb) if isinstance(layer, ResBlock) else layer(x)
        return x


class UNet(nn.Module):
    def __init__(self, a):
        super().__init__()
        mc = a.model_channels
        mult = [float(m) for m in a.channel_mult.split(",")]
        att = {int(d) for d in a.attention_ds.split(",") if d}
        emb_dim = 4 * mc
        self.mc = mc
        self.time_embed = nn.Sequential(nn.Linear(mc, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.num_classes = a.num_classes
        if a.num_classes:
            self.label_emb = nn.Embedding(a.num_classes, emb_dim)
        ch = input_ch = int(mult[0] * mc)
        attn = lambda c: Attention(c, a.num_heads, a.num_head_channels, a.new_attention_order)
        res = lambda cin, cout, **kw: ResBlock(cin, emb_dim, cout, not a.no_scale_shift, **kw)
        self.input_blocks = nn.ModuleList([Seq([nn.Conv2d(a.in_channels, ch, 3, padding=1)])])
        chans, ds = [ch], 1
        for level, m in enumerate(mult):
            for _ in range(a.num_res_blocks):
                layers = [res(ch, int(m * mc))]
                ch = int(m * mc)
                if ds in att:
                    layers.append(attn(ch))
                self.input_blocks.append(Seq(layers))
                chans.append(ch)
            if level != len(mult) - 1:
                self.input_blocks.append(Seq([res(ch, ch, down=True) if a.resblock_updown else Down(ch, True)]))
                chans.append(ch)
                ds *= 2
        self.middle_block = Seq([res(ch, ch), attn(ch), res(ch, ch)])
        self.output_blocks = nn.ModuleList()
        for level, m in list(enumerate(mult))[::-1]:
            for i in range(a.num_res_blocks + 1):
                layers = [res(ch + chans.pop(), int(mc * m))]
                ch = int(mc * m)
                if ds in att:
                    layers.append(attn(ch))
                if level and i == a.num_res_blocks:
                    layers.append(res(ch, ch, up=True) if a.resblock_updown else Up(ch, True))
                    ds //= 2
                self.output_blocks.append(Seq(layers))
        self.out = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(input_ch, a.out_channels, 3, padding=1))

    def forward(self, x, t, y=None):
        emb = self.time_embed(sinusoidal_embedding(t, self.mc))
        if self.num_classes:
            emb = emb + self.label_emb(y)
        hs, h = [], x
        for block in self.input_blocks:
            h = block(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)


def add_flags(p):
    p.add_argument("--model-channels", type=int, default=32)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--out-channels", type=int, default=6)
    p.add_argument("--num-res-blocks", type=int, default=3)
    p.add_argument("--channel-mult", default="1,1,1,2,2,2")
    p.add_argument("--attention-ds", default="4,8")
    p.add_argument("--num-heads", type=int, default=4)
    p.add_argument("--num-head-channels", type=int, default=1)
    p.add_argument("--new-attention-order", action="store_true")
    p.add_argument("--no-scale-shift", action="store_true")
    p.add_argument("--resblock-updown", action="store_true")
    p.add_argument("--num-classes", type=int, default=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("model")
    v.add_argument("forward")
    add_flags(v)
    m = sub.add_parser("make-case")
    m.add_argument("out_dir")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--batch", type=int, default=2)
    m.add_argument("--size", type=int, default=32)
    add_flags(m)
    c = sub.add_parser("count-params")
    add_flags(c)
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    if a.cmd == "count-params":
        print(sum(p.numel() for p in UNet(a).parameters()))
        return 0
    if a.cmd == "verify":
        net = UNet(a).eval()
        net.load_state_dict(torch.load(a.model, map_location="cpu"), strict=True)
        d = np.load(a.forward)
        out = net(torch.from_numpy(d["x"]), torch.from_numpy(d["t"])).numpy()
        err = np.abs(out - d["out"]).max() / np.abs(d["out"]).max()
        print(json.dumps({"max_abs_err_over_max_abs": float(err)}))
        return 0 if err < 1e-5 else 1
    torch.manual_seed(a.seed)
    net = UNet(a).eval()
    for name, p in net.named_parameters():  # zero-initialised layers upstream: make every path count
        if p.dim() > 1:
            fan_in = p[0].numel()
            p.copy_(torch.randn_like(p) / math.sqrt(fan_in))
        elif name.endswith("weight") and "norm" not in name and "in_layers.0" not in name \
                and "out_layers.0" not in name and not name.startswith("out.0"):
            p.copy_(torch.randn_like(p) * 0.1)
        else:
            p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
    os.makedirs(a.out_dir, exist_ok=True)
    torch.save(net.state_dict(), os.path.join(a.out_dir, "model.pt"))
    x = torch.randn(a.batch, a.in_channels, a.size, a.size)
    t = torch.randint(0, 4000, (a.batch,), dtype=torch.int64)
    arrays = {"x": x.numpy(), "t": t.numpy()}
    if a.num_classes:
        y = torch.randint(0, a.num_classes, (a.batch,), dtype=torch.int64)
        arrays["y"] = y.numpy()
        arrays["out"] = net(x, t, y).numpy()
    else:
        arrays["out"] = net(x, t).numpy()
    np.savez(os.path.join(a.out_dir, "forward.npz"), **arrays)
    with open(os.path.join(a.out_dir, "config.json"), "w") as f:
        json.dump({k: v for k, v in vars(a).items() if k not in ("cmd", "out_dir")}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
