#!/usr/bin/env python3
"""The PyTorch peer of `remat train`: the same models, loss, data sizes and measurement, with PyTorch's own
checkpointing (torch.utils.checkpoint.checkpoint_sequential). Prints one JSON object.

Run with Debian's Python (python3-torch): /usr/bin/python3 bench/peers/torch_peer.py --model mlp --mode seq:4
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint_sequential

libc = ctypes.CDLL("libc.so.6")
libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD, as Remat's MemoryMeter: freed tensors leave the resident set


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def peak_above(step):
    """The rise of the resident set's high-water mark over `step`, measured as Remat's MemoryMeter does."""
    libc.malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    step()
    return max(0, status("VmHWM") - before)


class GptBlock(nn.Module):
    """The GPT layer of Remat.Torch.GptBlock: explicit attention, causal mask, GeLU MLP, no dropout."""

    def __init__(self, hidden, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv, self.proj = nn.Linear(hidden, 3 * hidden), nn.Linear(hidden, hidden)
        self.fc1, self.fc2 = nn.Linear(hidden, 4 * hidden), nn.Linear(4 * hidden, hidden)

    def forward(self, x):
        b, s, h = x.shape
        d = h // self.heads
        q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(2, 3) / math.sqrt(d)
        mask = torch.ones(s, s, dtype=torch.bool).triu(1)
        context = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
        x = x + self.proj(context.transpose(1, 2).reshape(b, s, h))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


def build(model, layers, width, seq):
    """The stages and the shapes of one sample's input and target, as remat train builds them."""
    if model == "gpt":
        return [GptBlock(width, max(1, width // 64)) for _ in range(layers)], [seq, width], [seq, width]
    cycle = [1, 2, 4, 2, 1, 0.5, 0.25, 0.5]
    widths = [width if model == "mlp" or i in (0, layers) else max(1, int(width * cycle[i % len(cycle)])) for i in range(layers + 1)]
    stages = [nn.Sequential(nn.Linear(widths[i], widths[i + 1]), nn.ReLU()) for i in range(layers)]
    return stages, [widths[0]], [widths[-1]]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=["mlp", "hourglass", "gpt"], default="mlp")
    parser.add_argument("--layers", type=int, default=64)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", default="none", help="none, or seq:N for checkpoint_sequential with N segments")
    args = parser.parse_args()

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(args.seed)
    stages, input_shape, target_shape = build(args.model, args.layers, args.width, args.seq)
    model = nn.Sequential(*stages)
    # The input requires grad: PyTorch's reentrant checkpoint gives the first segment's parameters no gradient
    # otherwise (Remat's checkpoint does not need this).
    x = torch.randn(args.batch, *input_shape, requires_grad=True)
    target = torch.randn(args.batch, *target_shape)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    segments = int(args.mode.split(":")[1]) if args.mode.startswith("seq:") else 0

    def step():
        optimizer.zero_grad()
        y = checkpoint_sequential(model, segments, x) if segments else model(x)
        loss = F.mse_loss(y, target)
        loss.backward()
        return loss

    for _ in range(3):  # warm-up, as remat train warms before its first strategy
        step()
        optimizer.step()
    peaks, times = [], []
    for _ in range(args.steps):
        start = time.perf_counter()
        peaks.append(peak_above(step))
        times.append(time.perf_counter() - start)
        optimizer.step()
    print(json.dumps({
        "framework": "pytorch", "version": torch.__version__, "model": args.model, "mode": args.mode,
        "measuredPeakBytes": max(peaks), "medianStepSeconds": statistics.median(times), "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
