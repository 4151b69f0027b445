using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Remat.Planners;

namespace Remat.Bench;

/// <summary>
/// The two speed goals of the core: Optimal on a 256-stage heterogeneous chain with 1000 slots under 2 s,
/// and Revolve's schedule for L = 1,000,000 with 20 snapshots under 1 s.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 10)]
[MemoryDiagnoser]
public class GoalBenchmarks
{
    private Chain _heterogeneous = null!, _million = null!;
    private long _budget;

    [GlobalSetup]
    public void Setup()
    {
        _heterogeneous = Chain.Heterogeneous(256);
        long max = Simulator.Run(_heterogeneous, new StoreAll().Plan(_heterogeneous)).PeakBytes;
        long min = Optimal.MinimumBudget(_heterogeneous);
        _budget = min + (max - min) / 3;
        _million = Chain.Uniform(1_000_000, 1 << 20, 3 << 20);
    }

    [Benchmark]
    public Schedule Optimal256Stages1000Slots() => new Optimal(_budget, 1000).Plan(_heterogeneous);

    [Benchmark]
    public Schedule Revolve1MillionStages20Snapshots() => new Revolve(20).Plan(_million);
}
