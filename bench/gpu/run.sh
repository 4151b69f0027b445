#!/usr/bin/env bash
# On the GPU machine (one NVIDIA H200, PyTorch 2.11 with CUDA 13, no .NET), from the repository root, after
# bench/gpu/pack.sh here: the GPU tests, the calculator's time and memory against GPT layers in PyTorch
# (bench/transformer/compare.py), then remat train --device cuda on the MLP and the GPT model (docs/benchmarks.md, "On the
# GPU" and "The calculator's time"). One argument picks a part: tests, transformer or bench; none runs all. TorchSharp 0.107 runs against PyTorch's libtorch (../shared/gpu/README.md); memory is read from CUDA's
# memory pool, so libtorch runs on the stream-ordered allocator. Results go to $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/remat-gpu}; mkdir -p "$OUT"
TL=$(python3 -c "import torch,os;print(os.path.join(os.path.dirname(torch.__file__),'lib'))")
SP=$(dirname "$(dirname "$TL")")
CUDART=$(find "$SP/nvidia" -name 'libcudart.so*' | head -1)
export CUDART LD_LIBRARY_PATH="$TL:$(dirname "$CUDART")" DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
export PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync
mkdir -p /tmp/dn && tar -C /tmp/dn -xJf .gpu/dotnet-runtime.tar.xz && export DOTNET_ROOT=/tmp/dn PATH=/tmp/dn:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/machine.txt"
python3 -c "import torch;print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/machine.txt"
# The C++ entry points Remat uses for the CUDA generator's state.
nm -D --defined-only "$TL/libtorch_cuda.so" | grep -cE 'getDefaultCUDAGeneratorEa|CUDAGeneratorImpl(12current_seed|24philox_offset_per_thread|16set_current_seed|28set_philox_offset_per_thread)' | sed 's/^/generator entry points found: /' | tee -a "$OUT/machine.txt"
tests=${1:-all}
if [ "$tests" = "all" ] || [ "$tests" = "tests" ]; then
  (cd .gpu/tests && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$PWD" timeout 420 dotnet Remat.Gpu.Tests.dll -noLogo -noColor) 2>&1 | tee "$OUT/gpu-tests.txt" | grep -vE '^\s*$' | tail -40
fi
if [ "$tests" = "all" ] || [ "$tests" = "transformer" ]; then
  python3 bench/transformer/compare.py --remat "dotnet $PWD/.gpu/cli/Remat.Cli.dll" --gpu h200 --out "$OUT/transformer-time.json" 2>&1 | tee "$OUT/transformer-time.md"
fi
if [ "$tests" = "all" ] || [ "$tests" = "bench" ]; then
  train() { (cd .gpu/cli && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$PWD" timeout 240 dotnet Remat.Cli.dll train --device cuda "$@"); }
  train --model mlp --layers 24 --width 4096 --batch 8192 --steps 8 --strategy plain,storeall,periodic,optimal 2>&1 | tee "$OUT/train-mlp.txt"
  train --model gpt --layers 12 --width 1024 --seq 1024 --batch 16 --steps 8 --strategy plain,storeall,periodic,optimal 2>&1 | tee "$OUT/train-gpt.txt"
fi
