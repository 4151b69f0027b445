using Remat.Planners;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

/// <summary>Measured memory: wide margins on purpose, so that allocator noise cannot flip them.</summary>
public class MemoryTests(ITestOutputHelper output)
{
    private const int Layers = 36, Width = 256, Batch = 2048;

    private static Counting[] DeepMlp() => Models.Mlp(Enumerable.Repeat(Width, Layers + 1).ToArray());

    private static long MeasuredStep(Counting[] stages, Schedule schedule, Tensor input)
    {
        var executor = new ScheduleExecutor(stages);
        executor.Step(schedule, input, Models.Loss); // the first step allocates the parameter gradients
        Models.ZeroGrad(stages);
        return MemoryMeter.PeakAbove(() => executor.Step(schedule, input, Models.Loss));
    }

    [Fact]
    public void Periodic_sqrt_L_peaks_at_most_half_of_store_all_on_a_deep_chain()
    {
        Assert.True(MemoryMeter.IsSupported, "this test measures /proc/self memory and runs on Linux");
        var stages = DeepMlp();
        var input = randn(Batch, Width);
        var chain = Chain.Uniform(Layers, 1, 1);
        // Store-all, periodic, store-all again: memory an earlier test left resident can hide part of the first
        // step's growth, so store-all counts at its larger measurement.
        long storeAll = MeasuredStep(stages, new StoreAll().Plan(chain), input);
        long periodic = MeasuredStep(stages, new Periodic().Plan(chain), input);
        storeAll = Math.Max(storeAll, MeasuredStep(stages, new StoreAll().Plan(chain), input));
        output.WriteLine($"measured peak: store-all {storeAll >> 20} MiB, periodic(6) {periodic >> 20} MiB");
        Assert.True(periodic * 2 <= storeAll, $"periodic peaked at {periodic} bytes, store-all at {storeAll}");
    }

    [Fact]
    public void The_profiler_measures_output_sizes_exactly_and_saved_sizes_at_least_as_large()
    {
        var stages = Models.Mlp([Width, 2 * Width, Width / 2]);
        var chain = Profiler.Profile(stages, randn(Batch, Width), name: "mlp");
        Assert.Equal(Batch * Width * 4L, chain.InputBytes);
        Assert.Equal(Batch * 2L * Width * 4, chain[1].OutputBytes);
        Assert.Equal(Batch * (Width / 2L) * 4, chain[2].OutputBytes);
        Assert.All(chain.Stages, s => Assert.True(s.SavedBytes >= s.OutputBytes && s.ForwardTime > 0 && s.BackwardTime > 0));
        // Linear then ReLU keeps at least the Linear's input and the ReLU's output.
        Assert.True(chain[1].SavedBytes >= chain.InputBytes + chain[1].OutputBytes / 2,
            $"stage 1 saves {chain[1].SavedBytes} bytes; its input alone is {chain.InputBytes}");
        Assert.Equal(chain.Stages, ChainJson.Parse(ChainJson.Serialize(chain)).Stages);
    }

    [Fact]
    public void The_checkpointed_module_stays_within_its_budget_and_names_the_minimum_below_it()
    {
        var stages = DeepMlp();
        var input = randn(Batch, Width);
        // Measure once, then choose the budget from the measured chain: no second profile.
        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "storeall" });
        var profiled = module.ChainFor(input);
        long max = Simulator.Run(profiled, new StoreAll().Plan(profiled)).PeakBytes;
        long min = Optimal.MinimumBudget(profiled);
        long budget = min + (max - min) / 4;
        module.Options = new PlanOptions { BudgetBytes = budget };
        Assert.True(module.PlanFor(input).PeakBytes <= budget);
        void Step()
        {
            using var scope = NewDisposeScope();
            Models.Loss(module.forward(input)).backward();
        }
        Step();
        Models.ZeroGrad(stages);
        long measured = MemoryMeter.PeakAbove(Step);
        output.WriteLine($"budget {budget >> 20} MiB, planned {module.LastPlan!.PeakBytes >> 20} MiB, measured {measured >> 20} MiB");
        Assert.True(measured <= budget + Tolerance(budget), $"measured {measured} bytes over the budget {budget} plus the tolerance");

        module.Options = new PlanOptions { BudgetBytes = min / 2 };
        var e = Assert.Throws<InfeasibleBudgetException>(() => module.forward(input));
        Assert.True(e.MinimumBytes > min / 2, $"the exception names {e.MinimumBytes} bytes as the minimum, below the budget {min / 2}");
    }

    /// <summary>Blocks of three Linear layers, 4 MiB per activation at batch 4096 and width 256.</summary>
    private static nn.Module<Tensor, Tensor>[] Blocks(int n)
    {
        random.manual_seed(4);
        return [.. Enumerable.Range(0, n).Select(_ => (nn.Module<Tensor, Tensor>)nn.Sequential(
            nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.Tanh()))];
    }

    /// <summary>
    /// The measured peak of a whole step and of its backward alone (above the memory the forward left), with every
    /// block checkpointed or none. A warm-up step allocates the parameter gradients first.
    /// </summary>
    private static (long Step, long Backward) Peaks(nn.Module<Tensor, Tensor>[] blocks, bool checkpointed)
    {
        var input = randn(4096, 256, requires_grad: true);
        Tensor Forward()
        {
            var x = input;
            foreach (var b in blocks)
                x = checkpointed ? Checkpoint.Run(b.forward, x) : b.forward(x);
            return x.pow(2).mean();
        }
        using (NewDisposeScope())
            Forward().backward();
        long step;
        using (NewDisposeScope())
            step = MemoryMeter.PeakAbove(() => Forward().backward());
        long backward;
        using (NewDisposeScope())
        {
            var loss = Forward();
            backward = MemoryMeter.PeakAbove(() => loss.backward());
        }
        return (step, backward);
    }

    [Fact]
    public void Checkpointing_every_block_frees_each_gradient_once_consumed()
    {
        var (plain, _) = Peaks(Blocks(8), checkpointed: false);
        var (four, fourBackward) = Peaks(Blocks(4), checkpointed: true);
        var (eight, eightBackward) = Peaks(Blocks(8), checkpointed: true);
        output.WriteLine($"plain step, 8 blocks: {plain >> 20} MiB; checkpointed step: 4 blocks {four >> 20} MiB, 8 blocks {eight >> 20} MiB; " +
                         $"checkpointed backward: 4 blocks {fourBackward >> 20} MiB, 8 blocks {eightBackward >> 20} MiB");
        Assert.True(eight <= plain * 0.6, $"8 checkpointed blocks peaked at {eight} bytes, the plain step at {plain}: more than 0.6 of it");
        // The backward holds one block's recomputation and a gradient or two, whatever the number of blocks:
        // a gradient kept per checkpoint would add 4 MiB for each of the 4 more blocks.
        long activation = 4096 * 256 * 4L;
        Assert.True(eightBackward - fourBackward <= 2 * activation,
            $"the backward of 8 checkpointed blocks rose {eightBackward} bytes, of 4 blocks {fourBackward}: it grows with the number of checkpoints");
    }

    [Fact]
    public void Device_memory_is_the_resident_set_on_the_cpu_and_refused_with_the_fix_where_it_cannot_be_read()
    {
        var cpu = DeviceMemory.For(CPU);
        Assert.Equal("resident set", cpu.Source);
        long peak = cpu.PeakAbove(() =>
        {
            using var t = ones(8L << 20, dtype: ScalarType.Float32); // 32 MiB, touched
        });
        Assert.True(peak >= 30L << 20 && peak < 64L << 20, $"a 32 MiB temporary rose the resident set by {peak} bytes");
        var meta = Assert.Throws<RematException>(() => DeviceMemory.For(META));
        Assert.Contains("Strategy", meta.Message);
        // This machine has no CUDA runtime, or no device: either way CUDA's memory is refused with what to do, not guessed.
        var cuda = Assert.ThrowsAny<Exception>(() => DeviceMemory.For(new Device(DeviceType.CUDA, 0)));
        Assert.True(cuda is RematException || cuda.Message.Contains("CUDA", StringComparison.OrdinalIgnoreCase), cuda.ToString());
    }

    /// <summary>The documented tolerance of the checkpointed module: 10% of the budget plus 16 MiB (docs/torchsharp.md).</summary>
    private static long Tolerance(long budget) => budget / 10 + (16L << 20);
}
