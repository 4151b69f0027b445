"""GPT layers as Megatron builds them, on a CUDA GPU with PyTorch: the step time of L layers and their activation bytes
per layer, with no recompute, selective recompute (the attention core under checkpoint) and full recompute (every
layer under checkpoint), to set beside `remat memory --gpu ... --json` (docs/benchmarks.md, "The calculator's time").

python3 bench/transformer/layers.py --hidden 2048 --heads 16 --seq 1024 --batch 4 [--layers 8] [--rounds 5]

Unfused attention (separate kernels for the scores, the scale and mask, the softmax, the dropout and the weighted
values), bf16 activations and weights, dropout 0.1, no tensor parallelism. Prints one JSON object.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


class Layer(torch.nn.Module):
    """Layer norm, QKV, core attention, projection, dropout and residual; layer norm, MLP (GeLU), dropout and residual."""

    def __init__(self, h, a, dropout, selective):
        super().__init__()
        self.a, self.dropout, self.selective = a, dropout, selective
        self.ln1, self.ln2 = torch.nn.LayerNorm(h), torch.nn.LayerNorm(h)
        self.qkv, self.proj = torch.nn.Linear(h, 3 * h), torch.nn.Linear(h, h)
        self.fc1, self.fc2 = torch.nn.Linear(h, 4 * h), torch.nn.Linear(4 * h, h)

    def core(self, q, k, v, mask):
        # [b*a, s, d] each: scores, scale and causal mask, softmax, dropout, weighted values: separate kernels.
        scores = torch.bmm(q, k.transpose(1, 2)) * (q.shape[-1] ** -0.5)
        scores = scores.masked_fill(mask, float("-inf"))
        probs = F.dropout(torch.softmax(scores, dim=-1), self.dropout, self.training)
        return torch.bmm(probs, v)

    def forward(self, x, mask):
        b, s, h = x.shape
        d = h // self.a
        q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, self.a, d).permute(2, 0, 3, 1, 4).reshape(3, b * self.a, s, d).unbind(0)
        if self.selective:
            context = checkpoint(self.core, q, k, v, mask, use_reentrant=False)
        else:
            context = self.core(q, k, v, mask)
        context = context.view(b, self.a, s, d).permute(0, 2, 1, 3).reshape(b, s, h)
        x = x + F.dropout(self.proj(context), self.dropout, self.training)
        return x + F.dropout(self.fc2(F.gelu(self.fc1(self.ln2(x)))), self.dropout, self.training)


CUDA = torch.cuda.is_available()  # the CPU runs it too, small, to check the script: no memory figures there
DEVICE = "cuda" if CUDA else "cpu"


def sync():
    if CUDA:
        torch.cuda.synchronize()


def allocated():
    return torch.cuda.memory_allocated() if CUDA else 0


def build(args, setting):
    torch.manual_seed(0)
    layers = torch.nn.ModuleList([Layer(args.hidden, args.heads, 0.1, setting == "selective") for _ in range(args.layers)])
    return layers.to(DEVICE, torch.bfloat16)


def forward(layers, x, mask, setting):
    for layer in layers:
        x = checkpoint(layer, x, mask, use_reentrant=False) if setting == "full" else layer(x, mask)
    return x


def main():
    p = argparse.ArgumentParser()
    for name, default in [("hidden", None), ("heads", None), ("seq", None), ("batch", None), ("layers", 8), ("rounds", 5)]:
        p.add_argument("--" + name, type=int, default=default, required=default is None)
    args = p.parse_args()
    settings = ["none", "selective", "full"]
    mask = torch.ones(args.seq, args.seq, device=DEVICE, dtype=torch.bool).triu(1)
    x = torch.randn(args.batch, args.seq, args.hidden, device=DEVICE, dtype=torch.bfloat16, requires_grad=True)
    models = {s: build(args, s) for s in settings}
    activation = {}
    for s in settings:  # activation bytes per layer: what the forward leaves allocated, over the layers
        sync()
        before = allocated()
        y = forward(models[s], x, mask, s)
        sync()
        activation[s] = (allocated() - before - (y.numel() * y.element_size() if CUDA else 0)) / args.layers
        y.float().sum().backward()
        del y
    times = {s: [] for s in settings}
    for r in range(args.rounds + 2):  # interleaved: A B C A B C ...; the first two rounds warm up
        for s in settings:
            for prm in models[s].parameters():
                prm.grad = None
            sync()
            begin = time.perf_counter()
            forward(models[s], x, mask, s).float().sum().backward()
            sync()
            if r >= 2:
                times[s].append(time.perf_counter() - begin)
    result = {"shape": vars(args), "torch": torch.__version__, "gpu": torch.cuda.get_device_name() if CUDA else "cpu",
              "activationBytesPerLayer": activation,
              "stepSeconds": {s: statistics.median(v) for s, v in times.items()},
              "spread": {s: (max(v) - min(v)) / statistics.median(v) for s, v in times.items()}}
    base = result["stepSeconds"]["none"]
    result["overhead"] = {s: result["stepSeconds"][s] / base - 1 for s in settings}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
