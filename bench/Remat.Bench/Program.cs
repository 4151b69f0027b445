using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Remat.Bench.GoalBenchmarks).Assembly).Run(args);
