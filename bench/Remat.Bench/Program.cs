using BenchmarkDotNet.Running;

if (args is ["gain"])
    Remat.Bench.GainOverRotor.Run();
else if (args is ["gain-by-budget"])
    Remat.Bench.GainOverRotor.ByBudget();
else if (args is ["plan-time"])
    Remat.Bench.GainOverRotor.PlanningTime(256, 1000, rounds: 5);
else if (args is ["simulate"])
    Remat.Bench.SimulatorRate.Run();
else if (args is ["frontier"])
    Remat.Bench.FrontierSweep.Run();
else if (args is ["graphs"])
    Remat.Bench.GraphPlanningTime.Run();
else if (args is ["graphs-goal", var seconds])
    Remat.Bench.GraphPlanningTime.Goal(int.Parse(seconds));
else if (args is ["graph", _, _, _, _])
    Remat.Bench.GraphPlanningTime.One(args[1], int.Parse(args[2]), double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[4]));
else if (args is ["interval-chain", _, _, _, _, _])
    Remat.Bench.IntervalModelProofs.Run(int.Parse(args[1]), double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3]), int.Parse(args[4]), int.Parse(args[5]));
else if (args is ["convolutions"])
    Remat.Bench.ConvolutionGradients.Run();
else
    BenchmarkSwitcher.FromAssembly(typeof(Remat.Bench.GoalBenchmarks).Assembly).Run(args);
