using Remat.Planners;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Gpu.Tests;

/// <summary>Memory measured on the device, never guessed: exact sizes, the profiler's figures, and plans that hold.</summary>
public class DeviceMemoryTests
{
    [Fact]
    public void A_tensor_shows_in_the_memory_pool_to_the_byte_and_a_temporary_in_its_peak()
    {
        var device = Gpu.Device;
        var memory = DeviceMemory.For(device);
        long before = memory.Current();
        using var kept = empty(16L << 20, dtype: ScalarType.Float32, device: device); // 64 MiB
        Assert.Equal(64L << 20, memory.Current() - before);
        long peak = memory.PeakAbove(() =>
        {
            using var temporary = empty(8L << 20, dtype: ScalarType.Float32, device: device); // 32 MiB
        });
        Assert.Equal(32L << 20, peak);
    }

    /// <summary>Blocks of Linear and GELU: a block keeps the Linear's output (GELU's input) and its own output.</summary>
    private static nn.Module<Tensor, Tensor>[] GeluBlocks(Device device, int count, int width)
    {
        random.manual_seed(1);
        return [.. Enumerable.Range(0, count).Select(_ => (nn.Module<Tensor, Tensor>)nn.Sequential(nn.Linear(width, width), nn.GELU()).to(device))];
    }

    [Fact]
    public void The_profiler_sees_what_a_stage_keeps_on_the_device()
    {
        var device = Gpu.Device;
        var blocks = GeluBlocks(device, 4, 2048);
        var x = randn(4096, 2048, device: device);
        var chain = Profiler.Profile(blocks, x);
        foreach (var stage in chain.Stages)
            Assert.True(stage.SavedBytes >= 2 * stage.OutputBytes * 0.99,
                $"{stage.Name} keeps its Linear's output and its own: {stage.SavedBytes} bytes measured, {2 * stage.OutputBytes} expected at least");
    }

    public static TheoryData<string> Strategies => ["storeall", "periodic", "optimal"];

    [Theory]
    [MemberData(nameof(Strategies))]
    public void The_planned_peak_is_within_5_percent_of_the_measured_step_peak(string strategy)
    {
        var device = Gpu.Device;
        var blocks = GeluBlocks(device, 8, 2048);
        var x = randn(4096, 2048, device: device);
        var chain = Profiler.Profile(blocks, x);
        var periodic = Simulator.Run(chain, new Periodic().Plan(chain));
        var plan = Planner.Plan(chain, strategy == "optimal" ? new PlanOptions { BudgetBytes = periodic.PeakBytes } : new PlanOptions { Strategy = strategy });
        var executor = new ScheduleExecutor(blocks);
        executor.Step(plan.Schedule, x, y => y.pow(2).mean()); // the first step allocates the gradients
        long measured = executor.Measure(plan.Schedule, x, y => y.pow(2).mean()).Trace.PeakBytes;
        double error = (double)measured / plan.PeakBytes - 1;
        Assert.True(Math.Abs(error) <= 0.05,
            $"{strategy}: planned {ByteSize.Format(plan.PeakBytes)}, measured {ByteSize.Format(measured)} ({error:+0.0%;-0.0%})");
    }

    [Fact]
    public void The_caching_allocator_is_refused_with_the_fix()
    {
        // Only in a process started without the stream-ordered allocator (FreshProcessTests starts one).
        if (!Gpu.IsChild || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PYTORCH_CUDA_ALLOC_CONF")))
            Assert.Skip("runs in a child process on libtorch's default caching allocator (FreshProcessTests).");
        var device = Gpu.Device;
        var e = Assert.Throws<RematException>(() => DeviceMemory.For(device));
        Assert.Contains("PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync", e.Message);
        var blocks = GeluBlocks(device, 2, 256);
        var refused = Assert.Throws<RematException>(() => Profiler.Profile(blocks, randn(64, 256, device: device)));
        Assert.Contains("caching allocator", refused.Message);
    }
}
