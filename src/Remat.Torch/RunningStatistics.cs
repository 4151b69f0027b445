using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The running statistics of the normalisation layers in each stage (TorchSharp's <c>NormBase</c>: BatchNorm, and
/// InstanceNorm with <c>track_running_stats</c>), so that only a stage's first run in a step updates them, as the plain
/// step does. A rerun runs with each such layer in training mode frozen: its momentum set to 0, so that the running mean
/// and variance keep their values (the layer's own update writes them unchanged), and its <c>num_batches_tracked</c>
/// put back afterwards. The mean and variance are never written by Remat: a recorded graph saved them, and a write of
/// ours would make its backward fail with "modified by an inplace operation" (the layer's own update does not).
/// Without this, a recomputed BatchNorm counts each batch once per run: its momentum applied twice and
/// <c>num_batches_tracked</c> 2 after one step (docs/torchsharp.md).
/// </summary>
internal sealed class RunningStatistics
{
    private readonly TorchSharp.Modules.NormBase[][] _layers;
    private readonly bool[] _ran;

    private RunningStatistics(TorchSharp.Modules.NormBase[][] layers)
    {
        _layers = layers;
        _ran = new bool[layers.Length + 1];
    }

    /// <summary>The statistics of <paramref name="stages"/>, stage k being <c>stages[k - 1]</c> and its submodules (none where null).</summary>
    public static RunningStatistics ForStages(IEnumerable<nn.Module?> stages) => new([.. stages.Select(s => Layers(s is null ? [] : [s]))]);

    private static TorchSharp.Modules.NormBase[] Layers(IEnumerable<nn.Module> modules) =>
        [.. modules.SelectMany(m => new[] { m }.Concat(m.modules())).OfType<TorchSharp.Modules.NormBase>().Distinct()];

    /// <summary>Enters a run of stage <paramref name="k"/>: its first run updates the statistics; a rerun runs frozen until disposed.</summary>
    public IDisposable Enter(int k)
    {
        if (_ran[k])
            return Freeze(_layers[k - 1]);
        _ran[k] = true;
        return Frozen.None;
    }

    /// <summary>
    /// Freezes the statistics of <paramref name="modules"/> and their submodules until disposed: a function checkpoint's
    /// recomputation, the profiler's steps. Freezing a layer that does not run changes nothing.
    /// </summary>
    public static IDisposable Freeze(IEnumerable<nn.Module> modules) => Freeze(Layers(modules));

    private static Frozen Freeze(TorchSharp.Modules.NormBase[] layers)
    {
        var frozen = layers.Where(n => n.training && n.track_running_stats && n.num_batches_tracked is not null)
            .Select(n => (Layer: n, n.momentum, Count: n.num_batches_tracked!.detach().clone().DetachFromDisposeScope())).ToArray();
        foreach (var f in frozen)
            f.Layer.momentum = 0.0; // running = (1 - 0) * running + 0 * batch: the same values
        return new Frozen(frozen);
    }

    private sealed class Frozen((TorchSharp.Modules.NormBase Layer, double? Momentum, Tensor Count)[] layers) : IDisposable
    {
        public static readonly Frozen None = new([]);

        public void Dispose()
        {
            using (no_grad())
                foreach (var (layer, momentum, count) in layers)
                {
                    layer.momentum = momentum;
                    layer.num_batches_tracked!.copy_(count); // no graph reads the count
                    count.Dispose();
                }
        }
    }
}
