using System.Diagnostics;
using Remat.Planners;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Measures a model's stages into a <see cref="Chain"/> (serialisable with <see cref="ChainJson"/>).
/// For stage k, on the output of stage k-1 for the sample input:
/// <list type="bullet">
/// <item>forwardTime, backwardTime: the median wall time of the stage's no-grad forward and of its backward inside
/// real steps (measured steps by periodic checkpointing), not of the stage run alone, whose data the caches still hold;</item>
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
            return InContext(Measure(stages, sampleInput, repeats, name), stages, sampleInput, repeats);
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

    /// <summary>
    /// The times of <paramref name="alone"/>, each stage timed by itself, replaced by the times its operations take inside
    /// real steps: <paramref name="repeats"/> measured steps by periodic checkpointing (every stage is recorded and
    /// back-propagated once, and most are also run without recording). A stage timed alone runs on data its previous
    /// run left in the caches; inside a step it does not, and there its backward took about 10% longer
    /// (docs/benchmarks.md). A stage's forward time is the median of its no-grad runs (its recorded run when it has
    /// none), its backward time the median of its backward runs.
    /// </summary>
    private static Chain InContext(Chain alone, IReadOnlyList<nn.Module<Tensor, Tensor>> stages, Tensor sampleInput, int repeats)
    {
        int L = stages.Count;
        var forwards = Enumerable.Range(0, L + 1).Select(_ => new List<double>()).ToArray();
        var recorded = Enumerable.Range(0, L + 1).Select(_ => new List<double>()).ToArray();
        var backwards = Enumerable.Range(0, L + 1).Select(_ => new List<double>()).ToArray();
        var schedule = new Periodic().Plan(alone);
        var executor = new ScheduleExecutor(stages);
        var input = sampleInput.detach();
        for (int r = 0; r < repeats; r++)
        {
            using var scope = NewDisposeScope();
            var trace = executor.Measure(schedule, input, y => y.sum()).Trace;
            for (int i = 0; i < schedule.Ops.Count; i++)
            {
                var op = schedule.Ops[i];
                double t = trace.TimeAfter[i] - (i == 0 ? 0 : trace.TimeAfter[i - 1]);
                (op.Kind switch { OpKind.Fn or OpKind.Fck => forwards, OpKind.Fe => recorded, OpKind.B => backwards, _ => null })?[op.Stage].Add(t);
            }
        }
        return new Chain(alone.InputBytes, alone.Stages.Select((s, i) => s with
        {
            ForwardTime = Median([.. forwards[i + 1].Count > 0 ? forwards[i + 1] : recorded[i + 1]]),
            BackwardTime = Median([.. backwards[i + 1]]),
        }), alone.Name);
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
