#!/usr/bin/python3
"""Independent PyTorch re-implementation of the unofficial IRIS model (Nachiket1234/IRIS).

Same state_dict keys and the same numerics as the upstream IrisModel; written from its
documented behaviour for medport's parity tests. Run with /usr/bin/python3 (torch 1.13).

  iris_reference.py verify FIXTURE_DIR
      loads FIXTURE_DIR/final_model.pt with FIXTURE_DIR/config.json and compares
      task_embeddings and logits against FIXTURE_DIR/reference.npz.
  iris_reference.py make OUT_DIR --base B --tokens M --heads H --volume D H W [--seed S] [--batch B] [--classes K]
      writes OUT_DIR/model.pt (state_dict), OUT_DIR/config.json and OUT_DIR/reference.npz
      (support_image, support_masks, query_image, task_embeddings, logits).
  iris_reference.py tune MODEL_DIR [--steps N] [--seed S]
      reads MODEL_DIR/{model.pt,config.json,reference.npz} (from `make`), draws query masks and
      writes MODEL_DIR/tuning.npz: query_masks, loss_before, grad (d loss / d task_embeddings by
      torch.autograd), tuned_embeddings after N Adam steps (lr 1e-3), tuned_logits, loss_after,
      and the same N steps against pseudo-labels sigmoid(initial logits) > 0.5 (pseudo_losses:
      the loss before each step, pseudo_tuned_embeddings).
      The loss is the upstream tuner's: mean soft Dice on sigmoid(logits) (smoothing 1e-6) plus
      BCE with logits (mean); torch.optim.Adam with its defaults.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, cout, 3, stride, 1, bias=False)
        self.norm1 = nn.InstanceNorm3d(cout, affine=True)
        self.conv2 = nn.Conv3d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = nn.InstanceNorm3d(cout, affine=True)
        self.proj = nn.Conv3d(cin, cout, 1, stride, bias=False) if (cin != cout or stride != 1) else None

    def forward(self, x):
        skip = x if self.proj is None else self.proj(x)
        y = F.leaky_relu(self.norm1(self.conv1(x)), 0.01)
        y = self.norm2(self.conv2(y))
        return F.leaky_relu(y + skip, 0.01)


class Encoder(nn.Module):
    def __init__(self, cin, base):
        super().__init__()
        ch = [base * 2 ** i for i in range(5)]
        self.stem = ResBlock(cin, ch[0])
        self.down_blocks = nn.ModuleList([ResBlock(ch[i], ch[i + 1], 2) for i in range(4)])

    def forward(self, x):
        skips = [self.stem(x)]
        for blk in self.down_blocks:
            skips.append(blk(skips[-1]))
        return skips[-1], skips[:-1]


def heads_for(channels, heads):
    return heads if channels % heads == 0 else max(1, math.gcd(channels, heads))


def shuffle3d(x, r):
    b, c, d, h, w = x.shape
    x = x.reshape(b, c // r ** 3, r, r, r, d, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
    return x.reshape(b, c // r ** 3, d * r, h * r, w * r)


def unshuffle3d(x, r):
    b, c, d, h, w = x.shape
    x = x.reshape(b, c, d // r, r, h // r, r, w // r, r).permute(0, 1, 3, 5, 7, 2, 4, 6)
    return x.reshape(b, c * r ** 3, d // r, h // r, w // r)


class TaskEncoder(nn.Module):
    def __init__(self, channels, tokens, heads, ratio=16):
        super().__init__()
        self.r = ratio
        heads = heads_for(channels, heads)
        self.cc = max(1, math.ceil(channels / ratio ** 3))
        self.pre_shuffle = nn.Conv3d(channels, self.cc * ratio ** 3, 1, bias=False)
        self.context_conv = nn.Conv3d(self.cc + 1, self.cc, 1, bias=True)
        self.post_unshuffle = nn.Conv3d(self.cc * ratio ** 3, channels, 1, bias=False)
        self.cross_attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.self_attn = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.query_tokens = nn.Parameter(torch.randn(1, tokens, channels) * channels ** -0.5)

    def forward(self, feats, masks):
        masks = masks.to(feats.dtype)
        b, c, d, h, w = feats.shape
        k, D, H, W = masks.shape[1:]
        up = F.interpolate(feats, size=(D, H, W), mode="trilinear", align_corners=False)
        m = masks.unsqueeze(2)
        fg = (up.unsqueeze(1) * m).sum(dim=(-3, -2, -1)) / m.sum(dim=(-3, -2, -1)).clamp_min(1e-6)
        ctx = shuffle3d(self.pre_shuffle(feats), self.r).unsqueeze(1).expand(-1, k, -1, -1, -1, -1)
        ctx = torch.cat([ctx, m], dim=2).reshape(b * k, self.cc + 1, D, H, W)
        ctx = self.post_unshuffle(unshuffle3d(self.context_conv(ctx), self.r))
        seq = ctx.reshape(b * k, c, d * h * w).transpose(1, 2)
        q = self.query_tokens.expand(b * k, -1, -1)
        t, _ = self.cross_attn(q, seq, seq)
        t, _ = self.self_attn(t, t, t)
        return torch.cat([fg.unsqueeze(2), t.reshape(b, k, -1, c)], dim=2)


class BiAttention(nn.Module):
    def __init__(self, channels, heads):
        super().__init__()
        self.tokens_to_features = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.features_to_tokens = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.token_self_attn = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, feats, tokens):
        t, _ = self.features_to_tokens(tokens, feats, feats)
        f, _ = self.tokens_to_features(feats, t, t)
        t, _ = self.token_self_attn(t, t, t)
        return f, t


class Stage(nn.Module):
    def __init__(self, cin, cskip, cout):
        super().__init__()
        self.up = nn.ConvTranspose3d(cin, cout, 2, 2)
        self.fuse = ResBlock(cout + cskip, cout)


class Film(nn.Module):
    def __init__(self, channels, embed):
        super().__init__()
        self.linear = nn.Linear(embed, 2 * channels)


class Decoder(nn.Module):
    def __init__(self, chans, heads, volume):
        super().__init__()
        deep = chans[-1]
        self.volume = tuple(volume)
        self.cross_attention = BiAttention(deep, heads_for(deep, heads))
        skips = list(reversed(chans[:-1]))
        cins = [deep] + skips[:-1]
        self.decoder_stages = nn.ModuleList([Stage(ci, s, s) for ci, s in zip(cins, skips)])
        self.modulators = nn.ModuleList([Film(s, deep) for s in skips])
        self.final_conv = nn.Conv3d(skips[-1], 1, 1)

    def forward(self, feats, skips, emb):
        b, c, d, h, w = feats.shape
        k, m = emb.shape[1], emb.shape[2]
        x = feats.unsqueeze(1).expand(-1, k, -1, -1, -1, -1).reshape(b * k, c, d * h * w).transpose(1, 2)
        x, tokens = self.cross_attention(x, emb.reshape(b * k, m, c))
        x = x.transpose(1, 2).reshape(b * k, c, d, h, w)
        summary = tokens.mean(dim=1)
        for stage, film, s in zip(self.decoder_stages, self.modulators, reversed(skips)):
            s = s.unsqueeze(1).expand(-1, k, -1, -1, -1, -1).reshape(b * k, *s.shape[1:])
            x = stage.fuse(torch.cat([stage.up(x), s], dim=1))
            gamma, beta = film.linear(summary).chunk(2, dim=-1)
            x = x * (1 + gamma[:, :, None, None, None]) + beta[:, :, None, None, None]
        y = F.interpolate(self.final_conv(x), size=self.volume, mode="trilinear", align_corners=False)
        return y.reshape(b, k, *y.shape[-3:])


class IrisReference(nn.Module):
    def __init__(self, in_channels=1, base_channels=32, num_query_tokens=8, num_attention_heads=8,
                 volume_shape=(128, 128, 128), **_):
        super().__init__()
        chans = [base_channels * 2 ** i for i in range(5)]
        self.encoder = Encoder(in_channels, base_channels)
        self.task_encoder = TaskEncoder(chans[-1], num_query_tokens, num_attention_heads)
        self.mask_decoder = Decoder(chans, num_attention_heads, volume_shape)

    def encode_support(self, image, masks):
        return self.task_encoder(self.encoder(image)[0], masks)

    def forward(self, query, embeddings):
        feats, skips = self.encoder(query)
        return self.mask_decoder(feats, skips, embeddings)


def compare(name, got, want):
    err = float(np.max(np.abs(got - want)) / max(1e-12, float(np.max(np.abs(want)))))
    print(f"{name}: max |diff| / max |ref| = {err:.3e}")
    return err


def verify(folder):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    model = IrisReference(**cfg).eval()
    model.load_state_dict(torch.load(os.path.join(folder, "final_model.pt"), map_location="cpu"))
    ref = np.load(os.path.join(folder, "reference.npz"))
    with torch.no_grad():
        emb = model.encode_support(torch.from_numpy(ref["support_image"]), torch.from_numpy(ref["support_masks"]))
        logits = model(torch.from_numpy(ref["query_image"]), torch.from_numpy(ref["task_embeddings"]))
    worst = max(compare("task_embeddings", emb.numpy(), ref["task_embeddings"]),
                compare("logits", logits.numpy(), ref["logits"]))
    return 0 if worst < 1e-5 else 1


def make(args):
    torch.manual_seed(args.seed)
    cfg = {"in_channels": 1, "base_channels": args.base, "num_query_tokens": args.tokens,
           "num_attention_heads": args.heads, "volume_shape": list(args.volume)}
    model = IrisReference(**cfg).eval()
    with torch.no_grad():  # non-trivial norms and biases so that every weight matters
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight"):
                p.uniform_(0.5, 1.5)
            elif name.endswith(".bias"):
                p.uniform_(-0.2, 0.2)
    os.makedirs(args.out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(args.out, "model.pt"))
    json.dump(cfg, open(os.path.join(args.out, "config.json"), "w"), indent=2)
    g = torch.Generator().manual_seed(args.seed + 1)
    D, H, W = args.volume
    support = torch.randn(args.batch, 1, D, H, W, generator=g)
    query = torch.randn(args.batch, 1, D, H, W, generator=g)
    masks = (torch.rand(args.batch, args.classes, D, H, W, generator=g) > 0.7).float()
    with torch.no_grad():
        emb = model.encode_support(support, masks)
        logits = model(query, emb)
    np.savez(os.path.join(args.out, "reference.npz"), support_image=support.numpy(), support_masks=masks.numpy(),
             query_image=query.numpy(), task_embeddings=emb.numpy(), logits=logits.numpy())
    return 0


def tuning_loss(logits, targets, smooth=1e-6):
    probs = torch.sigmoid(logits)
    dims = tuple(range(2, logits.ndim))
    overlap = (probs * targets).sum(dim=dims)
    total = probs.sum(dim=dims) + targets.sum(dim=dims)
    dice = (1.0 - (2.0 * overlap + smooth) / (total + smooth)).mean()
    return dice + F.binary_cross_entropy_with_logits(logits, targets, reduction="mean")


def tune(args):
    cfg = json.load(open(os.path.join(args.folder, "config.json")))
    model = IrisReference(**cfg).eval()
    model.load_state_dict(torch.load(os.path.join(args.folder, "model.pt"), map_location="cpu"))
    for p in model.parameters():
        p.requires_grad_(False)
    ref = np.load(os.path.join(args.folder, "reference.npz"))
    query = torch.from_numpy(ref["query_image"])
    emb0 = torch.from_numpy(ref["task_embeddings"])
    g = torch.Generator().manual_seed(args.seed)
    masks = (torch.rand(emb0.shape[0], emb0.shape[1], *query.shape[2:], generator=g) > 0.8).float()
    emb = nn.Parameter(emb0.clone())
    loss_before = tuning_loss(model(query, emb), masks)
    loss_before.backward()
    grad = emb.grad.detach().clone()
    optimiser = torch.optim.Adam([emb], lr=1e-3)
    for _ in range(args.steps):
        optimiser.zero_grad()
        tuning_loss(model(query, emb), masks).backward()
        optimiser.step()
    with torch.no_grad():
        logits = model(query, emb)
        loss_after = tuning_loss(logits, masks)
        pseudo = (torch.sigmoid(model(query, emb0)) > 0.5).float()
    pseudo_emb = nn.Parameter(emb0.clone())
    optimiser = torch.optim.Adam([pseudo_emb], lr=1e-3)
    pseudo_losses = []
    for _ in range(args.steps):
        optimiser.zero_grad()
        loss = tuning_loss(model(query, pseudo_emb), pseudo)
        pseudo_losses.append(loss.item())
        loss.backward()
        optimiser.step()
    np.savez(os.path.join(args.folder, "tuning.npz"), query_masks=masks.numpy(),
             loss_before=np.array([loss_before.item()], np.float32), grad=grad.numpy(),
             tuned_embeddings=emb.detach().numpy(), tuned_logits=logits.numpy(),
             loss_after=np.array([loss_after.item()], np.float32),
             pseudo_losses=np.array(pseudo_losses, np.float32), pseudo_tuned_embeddings=pseudo_emb.detach().numpy())
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("verify")
    v.add_argument("folder")
    m = sub.add_parser("make")
    m.add_argument("out")
    m.add_argument("--base", type=int, default=8)
    m.add_argument("--tokens", type=int, default=8)
    m.add_argument("--heads", type=int, default=8)
    m.add_argument("--volume", type=int, nargs=3, default=[16, 64, 64])
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--batch", type=int, default=1)
    m.add_argument("--classes", type=int, default=2)
    t = sub.add_parser("tune")
    t.add_argument("folder")
    t.add_argument("--steps", type=int, default=5)
    t.add_argument("--seed", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(2)
    return {"verify": lambda: verify(a.folder), "make": lambda: make(a), "tune": lambda: tune(a)}[a.cmd]()


if __name__ == "__main__":
    sys.exit(main())
