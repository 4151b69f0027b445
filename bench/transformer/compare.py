"""Measured against predicted: for each shape, layers.py measures GPT layers on the GPU, and `remat memory --gpu NAME
--json` predicts the same layers' activation bytes and time; prints a markdown table and writes the figures as JSON.

python3 bench/transformer/compare.py --remat "dotnet .gpu/cli/Remat.Cli.dll" --gpu h200 --out results.json
(bench/gpu/run.sh runs it on the GPU machine; docs/benchmarks.md, "The calculator's time".)
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

# hidden, heads, sequence, micro-batch, layers: the two shapes, a long sequence, a small hidden size, a large one.
SHAPES = [(2048, 16, 1024, 4, 8), (4096, 32, 2048, 1, 8), (1024, 16, 8192, 1, 4), (512, 8, 2048, 8, 8), (8192, 64, 2048, 1, 4)]
SETTINGS = ["none", "selective", "full"]


def run(command):
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--remat", required=True)
    p.add_argument("--gpu", default="h200")
    p.add_argument("--out", default="transformer-time.json")
    args = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    rows = []
    for h, a, s, b, layers in SHAPES:
        measured = run([sys.executable, os.path.join(here, "layers.py"), "--hidden", str(h), "--heads", str(a), "--seq", str(s),
                        "--batch", str(b), "--layers", str(layers)])
        for setting in SETTINGS:
            predicted = run(shlex.split(args.remat) + ["memory", "--layers", str(layers), "--hidden", str(h), "--heads", str(a), "--seq", str(s),
                                                      "--micro-batch", str(b), "--recompute", setting, "--gpu", args.gpu, "--json"])
            rows.append({"hidden": h, "heads": a, "seq": s, "batch": b, "layers": layers, "setting": setting,
                         "measuredBytesPerLayer": measured["activationBytesPerLayer"][setting],
                         "predictedBytesPerLayer": predicted["activationBytesPerLayer"],
                         "measuredStepSeconds": measured["stepSeconds"][setting], "spread": measured["spread"][setting],
                         "predictedStepSeconds": predicted["time"]["stepSeconds"],
                         "measuredOverhead": measured["overhead"][setting], "predictedOverhead": predicted["time"]["recomputeOverhead"],
                         "flopsOverhead": predicted["recomputeOverhead"], "gpu": measured["gpu"], "torch": measured["torch"]})
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=1)
    print("| h | a | s | b | L | recompute | activations / layer: measured | predicted | diff | step: measured | spread | predicted | diff "
          "| overhead: measured | predicted (time) | predicted (FLOPs) |")
    print("|" + "---:|" * 5 + "---|" + "---:|" * 10)
    for r in rows:
        print(f"| {r['hidden']} | {r['heads']} | {r['seq']} | {r['batch']} | {r['layers']} | {r['setting']} "
              f"| {r['measuredBytesPerLayer'] / 2**20:,.1f} MiB | {r['predictedBytesPerLayer'] / 2**20:,.1f} MiB "
              f"| {r['measuredBytesPerLayer'] / r['predictedBytesPerLayer'] - 1:+.2%} "
              f"| {r['measuredStepSeconds'] * 1e3:.2f} ms | {r['spread']:.1%} | {r['predictedStepSeconds'] * 1e3:.2f} ms "
              f"| {r['predictedStepSeconds'] / r['measuredStepSeconds'] - 1:+.1%} "
              f"| {r['measuredOverhead']:+.1%} | {r['predictedOverhead']:+.1%} | {r['flopsOverhead']:+.1%} |")


if __name__ == "__main__":
    main()
