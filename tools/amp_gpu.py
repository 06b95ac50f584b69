"""Training-step time on a CUDA GPU: float32 vs TF32 vs bfloat16 autocast vs float16 autocast
with GradScaler, 30 timed steps after 5 warm-up steps, SGD, cross-entropy.

The figures in data/gpu_precision.json (shown by notebook 05 where no GPU is present) come
from this script, run as ``python tools/amp_gpu.py`` on one NVIDIA H100. Re-run it on a CUDA
machine and update that file.

Used by: data/gpu_precision.json (how its figures were measured).
"""

import time

import torch
import torchvision
from torch import nn


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(64 * 16, 10),
    )


def step_time(make, shape, batch, mode, iters=30):
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    m = make().cuda()
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    x = torch.randn(batch, *shape, device="cuda")
    y = torch.randint(0, 10, (batch,), device="cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=mode == "fp16")
    dt = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mode)

    def one():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=dt or torch.float32, enabled=dt is not None):
            loss = nn.functional.cross_entropy(m(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(5):
        one()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    for _ in range(iters):
        one()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / iters * 1e3, torch.cuda.max_memory_allocated() / 2**20


def main():
    print(torch.__version__, torch.cuda.get_device_name())
    cases = [
        ("small_cnn b256 1x8x8", small_cnn, (1, 8, 8), 256),
        ("small_cnn b4096 1x32x32", small_cnn, (1, 32, 32), 4096),
        (
            "resnet18 b128 3x224x224",
            lambda: torchvision.models.resnet18(num_classes=10),
            (3, 224, 224),
            128,
        ),
        (
            "resnet50 b128 3x224x224",
            lambda: torchvision.models.resnet50(num_classes=10),
            (3, 224, 224),
            128,
        ),
    ]
    for name, make, shape, batch in cases:
        res = {
            mode: step_time(make, shape, batch, mode) for mode in ("fp32", "tf32", "bf16", "fp16")
        }
        base = res["fp32"][0]
        print(
            name,
            " | ".join(
                f"{k}: {v[0]:.2f} ms ({base / v[0]:.2f}x, {v[1]:.0f} MiB)" for k, v in res.items()
            ),
        )


if __name__ == "__main__":
    main()
