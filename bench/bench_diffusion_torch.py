#!/usr/bin/python3
"""PyTorch eager per-call time of a guided-diffusion UNet (tools/guided_diffusion_reference.py).

  bench_diffusion_torch.py MODEL.pt BATCH THREADS CALLS [reference flags]   -> median ms (256x256)
"""
import argparse
import importlib.util
import os
import statistics
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from torch_device import put, sync  # noqa: E402
spec = importlib.util.spec_from_file_location("gdref", os.path.join(here, "..", "tools", "guided_diffusion_reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("batch", type=int)
p.add_argument("threads", type=int)
p.add_argument("calls", type=int)
ref.add_flags(p)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.set_grad_enabled(False)
net = ref.UNet(a).eval()
net.load_state_dict(torch.load(a.model, map_location="cpu"), strict=True)
net = put(net)
x = put(torch.randn(a.batch, a.in_channels, 256, 256))
t = put(torch.full((a.batch,), 1234, dtype=torch.int64))
net(x, t)
sync()
times = []
for _ in range(a.calls):
    s = time.perf_counter()
    net(x, t)
    sync()
    times.append((time.perf_counter() - s) * 1e3)
print(f"{statistics.median(times):.1f}")
