using Remat.Planners;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

/// <summary>
/// 500 training steps with the executor and each strategy: the resident set must not grow between step 50 and the
/// end beyond the documented tolerance (docs/reliability.md), and the last step's gradients must equal the plain step's.
/// </summary>
public class LongRunTests(ITestOutputHelper output)
{
    private const int Steps = 500;

    /// <summary>
    /// The documented tolerance: 32 MiB of growth over 450 steps. The process's own one-time growth (tiered
    /// compilation, allocator arenas, libtorch's caches) stays below it, while one leaked activation per step
    /// (512 x 128 floats, 256 KiB) would add 112 MiB.
    /// </summary>
    private const long Tolerance = 32L << 20;

    public static TheoryData<string> Strategies => ["storeall", "periodic", "revolve", "chen", "optimal"];

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Five_hundred_steps_keep_memory_flat_and_gradients_exact(string strategy)
    {
        var stages = Models.Mlp([64, 128, 96, 128, 64, 96, 128, 64, 32]);
        var chain = Chain.Heterogeneous(stages.Length, seed: 3);
        long min = Optimal.MinimumBudget(chain), max = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;
        var schedule = (strategy switch
        {
            "storeall" => (IPlanner)new StoreAll(),
            "periodic" => new Periodic(),
            "revolve" => new Revolve(2),
            "chen" => new ChenGreedy(),
            _ => new Optimal(min + (max - min) / 3),
        }).Plan(chain);
        var executor = new ScheduleExecutor(stages);
        var optimizer = optim.SGD(stages.SelectMany(s => s.parameters()), 0.001);
        random.manual_seed(1);
        var x = randn(512, 64);
        // Warm the process first: the runtime's tiered compilation and libtorch's lazily made thread pools and
        // caches grow once, early in a process's life, whichever test runs first.
        for (int step = 0; step < 200; step++)
            executor.Step(schedule, x, Models.Loss);
        long atFifty = 0;
        for (int step = 1; step <= Steps; step++)
        {
            optimizer.zero_grad();
            executor.Step(schedule, x, Models.Loss);
            if (step < Steps)
                optimizer.step();
            if (step == 50 || step == Steps)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                if (step == 50)
                    atFifty = MemoryMeter.Resident();
            }
        }
        long growth = MemoryMeter.Resident() - atFifty;
        output.WriteLine($"{strategy}: resident set grew {growth / 1024} KiB from step 50 to step {Steps}");
        Assert.True(growth <= Tolerance, $"{strategy}: the resident set grew {growth} bytes over {Steps - 50} steps");

        var last = Models.Gradients(stages);
        Models.ZeroGrad(stages);
        Models.PlainStep(stages, x);
        var plain = Models.Gradients(stages);
        for (int i = 0; i < plain.Length; i++)
            Assert.True(plain[i].eq(last[i]).all().item<bool>(), $"{strategy}: gradient {i} at step {Steps} differs from the plain step");
    }
}
