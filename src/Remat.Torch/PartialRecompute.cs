using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// A part of a block that the block declares for recomputation (the attention core of a transformer layer, or any
/// sub-module): the block runs it through <see cref="Run(Func{Tensor[], Tensor[]}, Tensor[])"/>, and where a plan
/// records the block partially (<see cref="Schedule.PartialRecords"/>, docs/model.md), the part runs under the
/// function checkpoint, so the block's record keeps its inputs but none of its intermediates, and the block's backward
/// recomputes it. Everywhere else (a plain step, a full record, a forward without recording) the part runs plainly.
/// The profiler measures a declaring block's partial record too, so the planner can choose, block by block, between
/// the full record, the partial one and recomputing the whole block.
/// </summary>
public static class PartialRecompute
{
    [ThreadStatic]
    private static bool _active;

    [ThreadStatic]
    private static int _declared;

    /// <summary>Runs <paramref name="part"/> on <paramref name="inputs"/>: under the checkpoint in a partial record, plainly otherwise.</summary>
    public static Tensor[] Run(Func<Tensor[], Tensor[]> part, Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(part);
        _declared++;
        return _active && is_grad_enabled() ? Checkpoint.Run(part, inputs, true, ReachedModules.Of(part), differentiable: true) : part(inputs);
    }

    /// <summary>Runs <paramref name="part"/> on <paramref name="input"/>, as the array form does.</summary>
    public static Tensor Run(nn.Module<Tensor, Tensor> part, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(part);
        _declared++;
        return _active && is_grad_enabled() ? Checkpoint.Run(xs => [part.forward(xs[0])], [input], true, [part], differentiable: true)[0] : part.forward(input);
    }

    /// <summary>How many declared parts this thread has run: a stage that raises it declares a part.</summary>
    internal static int Declared => _declared;

    /// <summary>Records partially until disposed: the declared parts run under the checkpoint.</summary>
    internal static IDisposable Enter() => new Scope();

    private sealed class Scope : IDisposable
    {
        private readonly bool _outer = _active;

        public Scope() => _active = true;

        public void Dispose() => _active = _outer;
    }
}
