using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Remat.Bench.Chains).Assembly).Run(args);
