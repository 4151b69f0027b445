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
/// <param name="stages">The modules stage k reaches, <c>stages[k - 1]</c> (with their submodules), read at each of its reruns.</param>
internal sealed class RunningStatistics(IReadOnlyList<IEnumerable<nn.Module>> stages)
{
    private readonly bool[] _ran = new bool[stages.Count + 1];

    /// <summary>The statistics of a chain's stages, each a module.</summary>
    public static RunningStatistics OfStages(IEnumerable<nn.Module> stages) => new([.. stages.Select(s => (IEnumerable<nn.Module>)[s])]);

    /// <summary>The statistics of stages given as functions: the modules each reaches (<see cref="ReachedModules"/>).</summary>
    public static RunningStatistics OfFunctions(IEnumerable<Delegate> functions) => new([.. functions.Select(ReachedModules.Of)]);

    /// <summary>Enters a run of stage <paramref name="k"/>: its first run updates the statistics; a rerun runs frozen until disposed.</summary>
    public IDisposable Enter(int k)
    {
        if (_ran[k])
            return Freeze(stages[k - 1]);
        _ran[k] = true;
        return Frozen.None;
    }

    /// <summary>
    /// Freezes the statistics of <paramref name="modules"/> and their submodules until disposed: a function checkpoint's
    /// recomputation, the profiler's steps. Freezing a layer that does not run changes nothing.
    /// </summary>
    public static IDisposable Freeze(IEnumerable<nn.Module> modules)
    {
        var layers = modules.SelectMany(m => new[] { m }.Concat(m.modules())).OfType<TorchSharp.Modules.NormBase>().Distinct();
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
