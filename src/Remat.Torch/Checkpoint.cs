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
    /// Raised when a checkpoint cannot save anything (nothing inside requires grad). Without a handler the
    /// message goes to standard error.
    /// </summary>
    public static event Action<string>? Warning;

    /// <summary>Runs <paramref name="function"/> on one tensor under checkpointing.</summary>
    public static Tensor Run(Func<Tensor, Tensor> function, Tensor input, bool preserveRngState = true) =>
        Run(xs => [function(xs[0])], [input], preserveRngState)[0];

    /// <summary>
    /// Runs <paramref name="function"/> on <paramref name="inputs"/> without recording; its backward reruns it with
    /// recording and gives the inputs and the parameters the function uses the same gradients as a plain run.
    /// Non-tensor arguments go in by closure. With <paramref name="preserveRngState"/> the recomputation sees the
    /// random state of the first run, so dropout draws the same mask (CPU generator).
    /// Under no-grad it simply runs the function.
    /// </summary>
    public static Tensor[] Run(Func<Tensor[], Tensor[]> function, Tensor[] inputs, bool preserveRngState = true)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Any(t => t is null))
            throw new ArgumentException("checkpoint: an input tensor is null; pass non-tensor arguments by closure instead.", nameof(inputs));
        if (!is_grad_enabled())
            return function(inputs);
        // The sentinel requires grad, so the backward runs even when no input does: the parameters inside the
        // function (frozen embeddings before it, LoRA) still get their gradients.
        var sentinel = empty(0, requires_grad: true);
        var state = new State(function, inputs.Length, preserveRngState ? random.get_rng_state() : null);
        object[] vars = [state, .. inputs, sentinel];
        return [.. RecomputeFunction.apply(vars)];
    }

    internal static void Warn(string message)
    {
        if (Warning is { } handler)
            handler(message);
        else
            Console.Error.WriteLine($"Remat: {message}");
    }

    /// <summary>What the backward needs beyond the inputs: the function and the random state.</summary>
    private sealed record State(Func<Tensor[], Tensor[]> Function, int InputCount, Tensor? RngState);

    private sealed class RecomputeFunction : autograd.MultiTensorFunction<RecomputeFunction>
    {
        public override string Name => "RematCheckpoint";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var state = (State)vars[0];
            var inputs = vars.Skip(1).Take(state.InputCount).Cast<Tensor>().ToArray();
            ctx.save_data("state", state);
            // Handles of our own: the caller may dispose its handles once the forward returns.
            ctx.save_data("inputs", inputs.Select(t => t.alias().requires_grad_(t.requires_grad)).ToArray());
            // The scope frees the function's temporaries now: that is the point of running without recording.
            using var scope = NewDisposeScope();
            return [.. state.Function(inputs).Select(t => t.MoveToOuterDisposeScope())];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
        {
            var state = (State)ctx.get_data("state");
            var inputs = (Tensor[])ctx.get_data("inputs");
            if (inputs.Any(t => t.IsInvalid))
            {
                // An exception cannot cross TorchSharp's native backward, so this is said, not thrown.
                Warn("checkpoint: a second backward through a checkpointed function is not supported (its inputs were released " +
                     "after the first); no gradient flows through it. Run the forward again before another backward.");
                return [null!, .. inputs.Select(_ => (Tensor)null!), null!];
            }
            using var scope = NewDisposeScope(); // the recomputed graph goes as soon as its gradients are out
            var detached = inputs.Select(t => t.detach().requires_grad_(t.requires_grad)).ToArray();
            Tensor[] outputs;
            using (enable_grad())
            {
                var outer = state.RngState is null ? null : random.get_rng_state();
                if (state.RngState is not null)
                    random.set_rng_state(state.RngState);
                outputs = state.Function(detached);
                if (outer is not null)
                    random.set_rng_state(outer);
            }
            var pairs = outputs.Zip(grads).Where(p => p.First.requires_grad && p.Second is not null && !p.Second.IsInvalid).ToArray();
            if (pairs.Length == 0)
            {
                Warn("checkpoint: nothing in the checkpointed function requires grad, so checkpointing it saves nothing; " +
                     "run it under no_grad or without the checkpoint.");
            }
            else
            {
                autograd.backward(pairs.Select(p => p.First).ToList(), pairs.Select(p => p.Second).ToList());
            }
            var result = detached.Select(d => d.requires_grad ? d.grad!.MoveToOuterDisposeScope() : null!).ToList();
            foreach (var input in inputs)
                input.Dispose(); // the checkpoint's stored inputs are released with its backward
            return [null!, .. result, null!];
        }
    }
}
