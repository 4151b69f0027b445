using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The running statistics of the normalisation layers in each stage (TorchSharp's <c>NormBase</c>: BatchNorm, and
/// InstanceNorm with <c>track_running_stats</c>; their <c>running_mean</c>, <c>running_var</c> and
/// <c>num_batches_tracked</c>), so that only a stage's first run in a step updates them, as the plain step does. A
/// rerun's statistics are copied before it and put back after it: at once after a no-grad rerun, and after the stage's
/// backward for a recording one, whose graph saved them (written sooner, that backward fails with "modified by an
/// inplace operation"). Without this, a recomputed BatchNorm counts each batch once per run: its momentum applied
/// twice and <c>num_batches_tracked</c> 2 after one step (docs/torchsharp.md).
/// </summary>
internal sealed class RunningStatistics
{
    private readonly TorchSharp.Modules.NormBase[][] _layers;
    private readonly bool[] _ran;
    private readonly (Tensor Live, Tensor Copy)[]?[] _copies;

    private RunningStatistics(TorchSharp.Modules.NormBase[][] layers)
    {
        _layers = layers;
        _ran = new bool[layers.Length + 1];
        _copies = new (Tensor, Tensor)[]?[layers.Length + 1];
    }

    /// <summary>The statistics of <paramref name="stages"/>, stage k being <c>stages[k - 1]</c> and its submodules (none where null).</summary>
    public static RunningStatistics ForStages(IEnumerable<nn.Module?> stages) => new([.. stages.Select(s => Layers(s is null ? [] : [s]))]);

    /// <summary>The statistics of one stage made of <paramref name="modules"/> and their submodules (a function checkpoint).</summary>
    public static RunningStatistics ForOne(IEnumerable<nn.Module> modules) => new([Layers(modules)]);

    private static TorchSharp.Modules.NormBase[] Layers(IEnumerable<nn.Module> modules) =>
        [.. modules.SelectMany(m => new[] { m }.Concat(m.modules())).OfType<TorchSharp.Modules.NormBase>().Distinct()];

    /// <summary>Stage <paramref name="k"/> is about to run: its first run is left to update the statistics; a rerun's are copied.</summary>
    public void BeforeRun(int k)
    {
        if (!_ran[k])
        {
            _ran[k] = true;
            return;
        }
        Copy(k);
    }

    /// <summary>Copies every stage's statistics, for <see cref="RestoreAll"/> to put back (around the profiler's steps).</summary>
    public void CopyAll()
    {
        for (int k = 1; k < _copies.Length; k++)
            Copy(k);
    }

    private void Copy(int k)
    {
        if (_copies[k] is not null)
            return; // a recording rerun not yet back-propagated: its copy is the state to go back to
        var live = _layers[k - 1].Where(n => n.training && n.track_running_stats)
            .SelectMany(n => new[] { n.running_mean, n.running_var, n.num_batches_tracked }).OfType<Tensor>().ToArray();
        if (live.Length > 0)
            _copies[k] = [.. live.Select(t => (t, t.detach().clone().DetachFromDisposeScope()))];
    }

    /// <summary>Puts back the statistics copied before stage <paramref name="k"/>'s rerun, if any.</summary>
    public void Restore(int k)
    {
        if (_copies[k] is not { } copies)
            return;
        _copies[k] = null;
        using (no_grad())
            foreach (var (live, copy) in copies)
            {
                live.copy_(copy);
                copy.Dispose();
            }
    }

    /// <summary>Puts back every copy still held (after <see cref="CopyAll"/>, or a run that stopped half-way).</summary>
    public void RestoreAll()
    {
        for (int k = 1; k < _copies.Length; k++)
            Restore(k);
    }
}
