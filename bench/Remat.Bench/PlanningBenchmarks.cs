using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Remat.Planners;

namespace Remat.Bench;

/// <summary>Planning time of each planner on heterogeneous chains, at a budget halfway between the smallest and store-all's peak.</summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
[MemoryDiagnoser]
public class PlanningBenchmarks
{
    private Chain _chain = null!;
    private long _budget;

    [Params(16, 64, 256, 1024)]
    public int Stages { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _chain = Chain.Heterogeneous(Stages);
        long max = Simulator.Run(_chain, new StoreAll().Plan(_chain)).PeakBytes;
        long min = Remat.Planners.Optimal.MinimumBudget(_chain);
        _budget = min + (max - min) / 2;
    }

    [Benchmark]
    public Schedule StoreAll() => new Remat.Planners.StoreAll().Plan(_chain);

    [Benchmark]
    public Schedule Periodic() => new Remat.Planners.Periodic().Plan(_chain);

    [Benchmark]
    public Schedule Revolve() => new Remat.Planners.Revolve((int)Math.Round(Math.Sqrt(Stages))).Plan(_chain);

    [Benchmark]
    public Schedule Chen() => new ChenGreedy(_budget).Plan(_chain);

    [Benchmark]
    public Schedule Optimal() => new Remat.Planners.Optimal(_budget, Stages >= 1024 ? 70 : 1000).Plan(_chain); // 1000 slots at 1024 stages pass the work limit
}
