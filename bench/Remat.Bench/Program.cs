using BenchmarkDotNet.Running;

if (args is ["gain"])
    Remat.Bench.GainOverRotor.Run();
else
    BenchmarkSwitcher.FromAssembly(typeof(Remat.Bench.GoalBenchmarks).Assembly).Run(args);
