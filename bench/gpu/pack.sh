#!/usr/bin/env bash
# Builds what the GPU machine runs into .gpu/ (ignored): the .NET runtime (it has none), the GPU tests and the remat tool,
# without libtorch-cpu's libraries (there, PyTorch's CUDA libtorch takes their place). Then, from the repository root on
# the GPU machine: bash bench/gpu/run.sh (the device tool's run, with carry [".gpu"]).
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu && mkdir -p .gpu/tests .gpu/cli
dotnet build tests/Remat.Gpu.Tests -c Release -v q -nologo >/dev/null
dotnet build src/Remat.Cli -c Release -v q -nologo >/dev/null
copy() { # the managed assemblies and the runtime config of $1's output, and TorchSharp's (patched) native shim
  cp "$1"/*.dll "$1"/*.runtimeconfig.json "$2"/
  cp "$1"/runtimes/linux-x64/native/libLibTorchSharp.so "$2"/
}
copy tests/Remat.Gpu.Tests/bin/Release/net10.0 .gpu/tests
copy src/Remat.Cli/bin/Release/net10.0 .gpu/cli
r=$(dirname "$(readlink -f "$(which dotnet)")")
tar -C "$r" -cf - dotnet host shared/Microsoft.NETCore.App shared/Microsoft.AspNetCore.App | xz -T2 -6 > .gpu/dotnet-runtime.tar.xz
du -sh .gpu
