using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Measures a model's stages into a <see cref="Chain"/> (serialisable with <see cref="ChainJson"/>).
/// For stage k, on the output of stage k-1 for the sample input:
/// <list type="bullet">
/// <item>forwardTime: the median wall time of a forward under no-grad;</item>
/// <item>backwardTime: the median wall time of its backward with a gradient of ones;</item>
/// <item>outputBytes: the output tensor's elements times its element size;</item>
/// <item>savedBytes: how far the resident set rises over a recorded forward that is kept (output and
/// saved tensors), at least outputBytes;</item>
/// <item>forwardTempBytes, backwardTempBytes: the peak of the resident set during the forward or the backward
/// above what stays after it (before it, for the backward: so the input gradient is included).</item>
/// </list>
/// Memory comes from <see cref="MemoryMeter"/>; where it is unsupported, savedBytes falls back to outputBytes and
/// the temps to 0. Profiling leaves the stages' parameter gradients and the random generator as it found them, so
/// it can run in the middle of training (gradient accumulation, dropout).
/// </summary>
public static class Profiler
{
    /// <summary>Profiles <paramref name="stages"/> on <paramref name="sampleInput"/>, timing each figure <paramref name="repeats"/> times.</summary>
    public static Chain Profile(IReadOnlyList<nn.Module<Tensor, Tensor>> stages, Tensor sampleInput, int repeats = 3, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(sampleInput);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        var parameters = stages.SelectMany(s => s.parameters()).ToArray();
        var gradients = parameters.Select(p => p.grad).ToArray();
        var state = random.get_rng_state();
        try
        {
            foreach (var p in parameters)
                p.grad = null;
            return Measure(stages, sampleInput, repeats, name);
        }
        finally
        {
            for (int i = 0; i < parameters.Length; i++)
                parameters[i].grad = gradients[i];
            random.set_rng_state(state);
        }
    }

    /// <summary>Profiles <paramref name="sequential"/>'s children, in order, as <see cref="Profile(IReadOnlyList{nn.Module{Tensor, Tensor}}, Tensor, int, string?)"/>.</summary>
    public static Chain Profile(TorchSharp.Modules.Sequential sequential, Tensor sampleInput, int repeats = 3, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(sequential);
        return Profile([.. sequential.children().Cast<nn.Module<Tensor, Tensor>>()], sampleInput, repeats, name);
    }

    private static Chain Measure(IReadOnlyList<nn.Module<Tensor, Tensor>> stages, Tensor sampleInput, int repeats, string? name)
    {
        var result = new List<Stage>();
        var x = sampleInput.detach();
        long inputBytes = Bytes(x);
        for (int k = 1; k <= stages.Count; k++)
        {
            var stage = stages[k - 1];
            Tensor output;
            using (no_grad())
                output = stage.forward(x);
            long outputBytes = Bytes(output);
            var forwardTimes = new double[repeats];
            var backwardTimes = new double[repeats];
            for (int i = 0; i < repeats; i++)
            {
                using var scope = NewDisposeScope();
                using (no_grad())
                    forwardTimes[i] = Seconds(() => stage.forward(x));
                var input = x.detach().requires_grad_(true);
                var y = stage.forward(input);
                var d = ones_like(y);
                backwardTimes[i] = Seconds(() => y.backward([d]));
            }
            var (saved, forwardTemp, backwardTemp) = MeasureMemory(stage, x, outputBytes);
            result.Add(new Stage(stage.GetName() + k, Median(forwardTimes), Median(backwardTimes), outputBytes, Math.Max(saved, outputBytes), forwardTemp, backwardTemp));
            if (!ReferenceEquals(x, sampleInput))
                x.Dispose();
            x = output;
        }
        return new Chain(inputBytes, result, name);
    }

    private static long Bytes(Tensor t) => t.numel() * t.ElementSize;

    private static (long Saved, long ForwardTemp, long BackwardTemp) MeasureMemory(nn.Module<Tensor, Tensor> stage, Tensor x, long outputBytes)
    {
        if (!MemoryMeter.IsSupported)
            return (outputBytes, 0, 0);
        using var scope = NewDisposeScope();
        var input = x.detach().requires_grad_(true);
        Tensor? y = null;
        long before = MemoryMeter.Resident(), kept = 0;
        long forwardPeak = MemoryMeter.PeakAbove(() =>
        {
            y = stage.forward(input);
            kept = MemoryMeter.Resident() - before;
        });
        var d = ones_like(y!);
        long backwardPeak = MemoryMeter.PeakAbove(() => y!.backward([d]));
        return (Math.Max(0, kept), Math.Max(0, forwardPeak - Math.Max(kept, outputBytes)), backwardPeak);
    }

    private static double Seconds(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }

    private static double Median(double[] times)
    {
        Array.Sort(times);
        return times[times.Length / 2];
    }
}
