using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Function checkpointing, the equivalent of PyTorch's <c>torch.utils.checkpoint.checkpoint</c>: runs a function
/// without keeping its intermediates and recomputes it during the backward pass (Chen et al. 2016).
/// It is the reentrant kind: a custom autograd function whose backward reruns the function with recording
/// and back-propagates through it.
/// </summary>
public static class Checkpoint
{
    /// <summary>
    /// Raised when a checkpoint's backward fails (the message names the cause). Without a handler the message goes to
    /// <see cref="System.Diagnostics.Trace"/> as a warning, which the application routes with its trace listeners; the
    /// library writes nothing to the console. <see cref="Backward"/> throws the same cause.
    /// </summary>
    public static event Action<string>? Warning;

    /// <summary>Runs <paramref name="function"/> on one tensor under checkpointing.</summary>
    public static Tensor Run(Func<Tensor, Tensor> function, Tensor input, bool preserveRngState = true)
    {
        ArgumentNullException.ThrowIfNull(function);
        return Run(xs => [function(xs[0])], [input], preserveRngState, ReachedModules.Of(function))[0];
    }

    /// <summary>Runs <paramref name="module"/> on one tensor under checkpointing, as <c>checkpoint(module, x)</c> in PyTorch.</summary>
    public static Tensor Run(nn.Module<Tensor, Tensor> module, Tensor input, bool preserveRngState = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        return Run(xs => [module.forward(xs[0])], [input], preserveRngState, [module])[0];
    }

    /// <summary>Runs <paramref name="function"/> on two tensors under checkpointing.</summary>
    public static Tensor Run(Func<Tensor, Tensor, Tensor> function, Tensor a, Tensor b, bool preserveRngState = true)
    {
        ArgumentNullException.ThrowIfNull(function);
        return Run(xs => [function(xs[0], xs[1])], [a, b], preserveRngState, ReachedModules.Of(function))[0];
    }

    /// <summary>Runs <paramref name="function"/> on three tensors under checkpointing.</summary>
    public static Tensor Run(Func<Tensor, Tensor, Tensor, Tensor> function, Tensor a, Tensor b, Tensor c, bool preserveRngState = true)
    {
        ArgumentNullException.ThrowIfNull(function);
        return Run(xs => [function(xs[0], xs[1], xs[2])], [a, b, c], preserveRngState, ReachedModules.Of(function))[0];
    }

    /// <summary>
    /// Runs <paramref name="function"/> on <paramref name="inputs"/> without recording; its backward reruns it with
    /// recording and gives the inputs and the parameters the function uses the same gradients as a plain run.
    /// Non-tensor arguments go in by closure; a null input (PyTorch's <c>None</c>) reaches the function as null and gets
    /// no gradient, and a null output comes back null. With <paramref name="preserveRngState"/> the recomputation sees the
    /// random state of the first run, so dropout draws the same mask (on CUDA, the generator's exact state: docs/torchsharp.md).
    /// Under no-grad it simply runs the function. The running statistics of the normalisation layers (BatchNorm) that
    /// the function reaches are updated by the first run only, as in a plain step: the layers of the module whose
    /// method it is, or of the modules a lambda captured (<see cref="ReachedModules"/>, docs/torchsharp.md).
    /// </summary>
    public static Tensor[] Run(Func<Tensor[], Tensor[]> function, Tensor[] inputs, bool preserveRngState = true)
    {
        ArgumentNullException.ThrowIfNull(function);
        return Run(function, inputs, preserveRngState, ReachedModules.Of(function));
    }

    /// <summary>
    /// <see cref="Run(Func{Tensor[], Tensor[]}, Tensor[], bool)"/>, with the running statistics of the normalisation
    /// layers of <paramref name="modules"/> (enumerated at each recomputation) updated by the first run only.
    /// </summary>
    /// <remarks>
    /// With <paramref name="differentiable"/> the first run does not record: every output is taken to need a gradient,
    /// for a caller that knows it (a block's declared part, whose outputs feed the rest of the block:
    /// <see cref="PartialRecompute"/>), and the first run's peak is the function's unrecorded one.
    /// </remarks>
    internal static Tensor[] Run(Func<Tensor[], Tensor[]> function, Tensor[] inputs, bool preserveRngState, IEnumerable<nn.Module> modules,
        bool differentiable = false)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(inputs);
        BackwardGuard.ReleaseReturned();
        if (!is_grad_enabled())
            return function(inputs);
        // The autograd function takes and gives tensors only: the nulls among the inputs and outputs keep their places
        // in the state. The sentinel requires grad, so the backward runs even when no input does: the parameters
        // inside the function (frozen embeddings before it, LoRA) still get their gradients.
        var tensors = Slots.Of(inputs);
        var device = tensors.Tensors.FirstOrDefault()?.device ?? CPU;
        var sentinel = new Sentinel(device);
        var state = new State(function, tensors, preserveRngState ? RandomStates.For(1, device) : null, modules, sentinel, differentiable);
        object[] vars = [state, .. tensors.Tensors, sentinel.Input];
        var outputs = RecomputeFunction.apply(vars);
        return state.Outputs!.Spread([.. outputs]);
    }

    /// <summary>
    /// Runs the backward pass from <paramref name="output"/> (a scalar loss, or any tensor with
    /// <paramref name="gradient"/>) as <c>output.backward()</c> does, and when a checkpoint's backward failed inside it
    /// (an exception in the recomputation, a function none of whose outputs requires grad, an input changed in place),
    /// throws a <see cref="RematException"/> with that cause. A plain <c>backward()</c> throws too, but libtorch's
    /// message then only says a node "returned an invalid gradient ... got meta". After a failure the gradients
    /// accumulated so far are partial: zero them before the next step.
    /// </summary>
    public static void Backward(Tensor output, Tensor? gradient = null, bool retainGraph = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        BackwardGuard.Surface(() => output.backward(gradient is null ? null : [gradient], retain_graph: retainGraph));
    }

    internal static void Warn(string message)
    {
        if (Warning is { } handler)
            handler(message);
        else
            System.Diagnostics.Trace.TraceWarning($"Remat: {message}");
    }

    /// <summary>
    /// What the backward needs beyond the input tensors: the function, where the inputs and (once the first run returned)
    /// the outputs have their tensors, the random state, the modules whose running statistics a recomputation freezes, and
    /// the sentinel.
    /// </summary>
    private sealed record State(Func<Tensor[], Tensor[]> Function, Slots Inputs, RandomStates? Random, IEnumerable<nn.Module> Modules, Sentinel Sentinel,
        bool Differentiable)
    {
        public Slots? Outputs { get; set; }

        public int InputCount => Inputs.Tensors.Length;

        /// <summary>Runs the function on the input tensors, with the nulls in their places, and checks what it returns.</summary>
        public Tensor[] Call(Tensor[] inputs) =>
            Function(Inputs.Spread(inputs)) ?? throw new RematException("checkpoint: the function returned null; return its output tensors.");
    }

    /// <summary>An array's tensors and the places they take in it; the other places hold null.</summary>
    private sealed record Slots(Tensor[] Tensors, int[] Places, int Length)
    {
        public static Slots Of(Tensor[] array)
        {
            var places = Enumerable.Range(0, array.Length).Where(i => array[i] is not null).ToArray();
            return new([.. places.Select(i => array[i])], places, array.Length);
        }

        /// <summary>The array of <see cref="Length"/> with <paramref name="tensors"/> in these places and null elsewhere.</summary>
        public Tensor[] Spread(Tensor[] tensors)
        {
            var array = new Tensor[Length];
            for (int i = 0; i < Places.Length; i++)
                array[Places[i]] = tensors[i];
            return array;
        }

        public bool SamePlaces(Slots other) => Length == other.Length && Places.SequenceEqual(other.Places);
    }

    private sealed class RecomputeFunction : autograd.MultiTensorFunction<RecomputeFunction>
    {
        public override string Name => "RematCheckpoint";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var state = (State)vars[0];
            var inputs = vars.Skip(1).Take(state.InputCount).Cast<Tensor>().ToArray();
            ctx.save_data("state", state);
            // Saved as libtorch saves a node's inputs: kept while the graph lives, so that a second backward (with
            // retain_graph) recomputes again, and checked against in-place changes when unpacked.
            ctx.save_for_backward([.. inputs]);
            ctx.set_materialize_grads(false); // an output nobody used gets no gradient, not a tensor of zeros
            // The first run records, on detached inputs, only to learn which outputs need a gradient (one the function
            // detached, or an input without grad it passed through, needs none, as in the plain function); the scope
            // then frees the record with the function's temporaries: nothing of it is kept for the backward.
            using var scope = NewDisposeScope();
            using var replay = state.Random?.Enter(1); // records the random state of the first run
            var detached = inputs.Select(x => x.detach().requires_grad_(x.requires_grad)).ToArray();
            Slots recorded;
            using (state.Differentiable ? no_grad() : enable_grad())
                recorded = Slots.Of(state.Call(detached));
            if (recorded.Tensors.Length == 0)
                throw new RematException("checkpoint: the function returned no tensor; return at least one output tensor.");
            var outputs = recorded.Tensors.Select(t => t.detach().MoveToOuterDisposeScope()).ToArray();
            state.Outputs = recorded with { Tensors = outputs };
            var needless = state.Differentiable ? [] : outputs.Where((_, i) => !recorded.Tensors[i].requires_grad).ToList();
            if (needless.Count > 0)
                ctx.mark_non_differentiable(needless);
            return [.. outputs];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
        {
            var state = (State)ctx.get_data("state");
            return BackwardGuard.Run("a checkpointed function", state.InputCount + 2, state.Sentinel, () =>
            {
                try
                {
                    return [null!, .. Recompute(state, ctx.get_saved_variables(), grads), null!];
                }
                finally
                {
                    foreach (var g in grads)
                        g?.Dispose(); // the engine's handles to the incoming gradients: ours to release
                }
            });
        }

        /// <summary>Reruns the function with recording on the saved inputs and back-propagates the output gradients.</summary>
        private static List<Tensor> Recompute(State state, List<Tensor> saved, List<Tensor> grads)
        {
            using var scope = NewDisposeScope(); // the recomputed graph goes as soon as its gradients are out
            var detached = saved.Select(t => t.detach().requires_grad_(t.requires_grad)).ToArray();
            Slots recomputed;
            using (enable_grad())
            using (state.Random?.Enter(1)) // replays the first run's random state
            using (RunningStatistics.Freeze(state.Modules)) // and leaves the running statistics as the first run left them
                recomputed = Slots.Of(state.Call(detached));
            if (!recomputed.SamePlaces(state.Outputs!))
                throw new RematException($"the recomputation returned {recomputed.Tensors.Length} tensors of {recomputed.Length} outputs, where the first run " +
                                         $"returned {state.Outputs!.Tensors.Length} of {state.Outputs.Length}: the function must return the same outputs every time.");
            var outputs = recomputed.Tensors;
            // An output that does not require grad (the function detached it, or it depends on no input or parameter
            // that does) passes no gradient back, as in the plain function; with none, the inputs get none.
            var pairs = outputs.Zip(grads).Where(p => p.First.requires_grad && p.Second is not null && !p.Second.IsInvalid).ToArray();
            if (pairs.Length > 0)
                autograd.backward(pairs.Select(p => p.First).ToList(), pairs.Select(p => p.Second).ToList());
            // An input that requires grad but did not reach an output gets none, as in PyTorch.
            return [.. detached.Select(d => d.requires_grad && d.grad is { } g ? FirstOrderOnly.Wrap(g).MoveToOuterDisposeScope() : null!)];
        }
    }
}
