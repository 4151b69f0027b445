using Remat.Planners;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Measures a model's stages into a <see cref="Chain"/> (serialisable with <see cref="ChainJson"/>), inside real
/// steps: after a no-grad sweep for the output sizes, it runs measured steps by periodic checkpointing
/// (<see cref="ScheduleExecutor.Measure"/>; every stage is recorded and back-propagated once, most are also run without
/// recording) and reads each figure off the operations of those steps:
/// <list type="bullet">
/// <item>forwardTime: the median wall time of the stage's no-grad forwards (its recorded forward when it has none);</item>
/// <item>backwardTime: the median wall time of its backward;</item>
/// <item>outputBytes: the output tensor's elements times its element size (exact);</item>
/// <item>savedBytes: how far memory rises over its recorded forward (output and saved tensors), at least outputBytes;</item>
/// <item>forwardTempBytes: the peak during the recorded forward above what stays after it;</item>
/// <item>backwardTempBytes: the peak during the backward above the memory before it (so the input gradient is included).</item>
/// </list>
/// A stage timed or measured alone runs on data its previous run left in the caches and next to allocations a step
/// does not make; inside a step it does not (docs/benchmarks.md). Memory comes from <see cref="MemoryMeter"/>; where
/// it is unsupported, savedBytes falls back to outputBytes and the temps to 0. The first two steps are left out (the
/// first allocates the parameters' gradients; both warm the runtime). Profiling leaves the stages' parameter gradients and the random generator as
/// it found them, so it can run in the middle of training (gradient accumulation, dropout). Its steps are periodic,
/// so it needs about as much memory as periodic checkpointing, not store-all's.
/// </summary>
public static class Profiler
{
    /// <summary>Steps run before the measured ones: the first allocates the gradients, the next warms the runtime.</summary>
    private const int Warmup = 2;

    /// <summary>Profiles <paramref name="stages"/> on <paramref name="sampleInput"/>: each figure is the median over <paramref name="repeats"/> measured steps.</summary>
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
        int L = stages.Count;
        var input = sampleInput.detach();
        long inputBytes = Bytes(input);
        var outputs = new long[L + 1];
        using (var sweep = NewDisposeScope())
        using (no_grad())
        {
            var x = input;
            for (int k = 1; k <= L; k++)
            {
                var y = stages[k - 1].forward(x);
                outputs[k] = Bytes(y);
                if (!ReferenceEquals(x, input))
                    x.Dispose();
                x = y;
            }
        }
        // The sizes are all periodic checkpointing needs to cut the chain.
        var sized = new Chain(inputBytes, Enumerable.Range(1, L).Select(k => new Stage($"s{k}", 1, 1, outputs[k], outputs[k])), name);
        var schedule = new Periodic().Plan(sized);
        var executor = new ScheduleExecutor(stages);
        var forward = Samples(L);
        var recorded = Samples(L);
        var backward = Samples(L);
        var saved = Samples(L);
        var forwardTemp = Samples(L);
        var backwardTemp = Samples(L);
        for (int r = -Warmup; r < repeats; r++)
        {
            using var scope = NewDisposeScope();
            var trace = executor.Measure(schedule, input, y => y.sum()).Trace;
            if (r < 0)
                continue; // warm-up: the first step allocates the parameters' gradients, the next warms libtorch's threads
            for (int i = 0; i < schedule.Ops.Count; i++)
            {
                var op = schedule.Ops[i];
                int k = op.Stage;
                double time = trace.TimeAfter[i] - (i == 0 ? 0 : trace.TimeAfter[i - 1]);
                long before = i == 0 ? inputBytes : trace.MemoryAfter[i - 1], after = trace.MemoryAfter[i], peak = trace.PeakDuring[i];
                switch (op.Kind)
                {
                    case OpKind.Fn or OpKind.Fck:
                        forward[k].Add(time);
                        break;
                    case OpKind.Fe:
                        recorded[k].Add(time);
                        saved[k].Add(after - before);
                        forwardTemp[k].Add(peak - after);
                        break;
                    case OpKind.B:
                        backward[k].Add(time);
                        backwardTemp[k].Add(peak - before);
                        break;
                }
            }
        }
        return new Chain(inputBytes, Enumerable.Range(1, L).Select(k => new Stage(
            stages[k - 1].GetName() + k,
            Median(forward[k].Count > 0 ? forward[k] : recorded[k]),
            Median(backward[k]),
            outputs[k],
            Math.Max(outputs[k], (long)Median(saved[k])),
            Math.Max(0, (long)Median(forwardTemp[k])),
            Math.Max(0, (long)Median(backwardTemp[k])))), name);
    }

    private static List<double>[] Samples(int stages) => [.. Enumerable.Range(0, stages + 1).Select(_ => new List<double>())];

    private static long Bytes(Tensor t) => t.numel() * t.ElementSize;

    private static double Median(List<double> samples)
    {
        var sorted = samples.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
