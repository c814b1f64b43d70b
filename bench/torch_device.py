"""Where the PyTorch baselines run: MEDPORT_BENCH_TORCH_DEVICE=cpu (default) or cuda, and
MEDPORT_BENCH_TORCH_FP16=1 for half precision (bench/gpu/run_device_checks.sh sets them). On CUDA,
TF32 is off so that float32 means float32, as in medport's CUDA sessions."""
import os

import torch

DEVICE = torch.device(os.environ.get("MEDPORT_BENCH_TORCH_DEVICE", "cpu"))
FP16 = os.environ.get("MEDPORT_BENCH_TORCH_FP16", "0") == "1"
if DEVICE.type == "cuda":
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True


def sync():
    """Waits for the device, so that a wall-clock interval covers the work."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def put(module_or_tensor):
    """On the benchmark device, in half precision when asked (floating tensors and modules only)."""
    x = module_or_tensor.to(DEVICE)
    if FP16 and (isinstance(x, torch.nn.Module) or x.is_floating_point()):
        x = x.half()
    return x
