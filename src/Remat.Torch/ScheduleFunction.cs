using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The custom autograd function around one run of a schedule: the forward part in its forward, the rest in its
/// backward, which your own <c>loss.backward()</c> calls. Its inputs are the sequence's input, the side inputs that are
/// not null, and the sentinel; it gives each of the first two kinds the gradient of the plain model.
/// </summary>
internal sealed class ScheduleFunction : autograd.MultiTensorFunction<ScheduleFunction>
{
    /// <summary>
    /// Runs the forward part of <paramref name="schedule"/> on <paramref name="stages"/> (as <paramref name="chain"/>, the
    /// graph and functions a run takes: <see cref="ScheduleRun.OfChain"/>), whose blocks read <paramref name="reader"/>'s
    /// values, with <paramref name="side"/> as the side inputs; returns <c>x_L</c>.
    /// </summary>
    public static Tensor Run(nn.Module<Tensor, Tensor>[] stages, (Graph Graph, Func<Tensor[], Tensor>[] Nodes) chain, Schedule schedule, Tensor input,
        Tensor?[] side, SideInputs reader)
    {
        // The sentinel requires grad, so the backward runs even when the input does not (a frozen embedding in front).
        var sentinel = new Sentinel(input.device);
        var places = Enumerable.Range(0, side.Length).Where(i => side[i] is not null).ToArray();
        object[] vars = [new State(stages, chain, schedule, input.device, sentinel, reader, places, side.Length), input, .. places.Select(i => side[i]!), sentinel.Input];
        return apply(vars)[0];
    }

    /// <summary>The stages and schedule, the random states and running statistics of the stages' first runs, and the run between forward and backward.</summary>
    private sealed class State(nn.Module<Tensor, Tensor>[] stages, (Graph Graph, Func<Tensor[], Tensor>[] Nodes) chain, Schedule schedule, Device device, Sentinel sentinel, SideInputs reader, int[] places, int sides)
    {
        /// <summary>The chain as the graph its run follows, and its stages as the graph's functions.</summary>
        public (Graph Graph, Func<Tensor[], Tensor>[] Nodes) Chain { get; } = chain;

        public Schedule Schedule { get; } = schedule;

        public RandomStates Random { get; } = RandomStates.For(stages.Length, device);

        public RunningStatistics Statistics { get; } = RunningStatistics.OfStages(stages);

        public Sentinel Sentinel { get; } = sentinel;

        /// <summary>Where the blocks read the side inputs, the places of those that are not null, and how many there are.</summary>
        public SideInputs Reader { get; } = reader;

        public int[] Places { get; } = places;

        public int Sides { get; } = sides;

        public Tensor? Input { get; set; }

        /// <summary>This run's own handles of the side inputs that are not null, in <see cref="Places"/>' order.</summary>
        public Tensor[] Side { get; set; } = [];

        public ScheduleRun? Run { get; set; }

        /// <summary>Takes handles of its own of the input and side inputs (outside the caller's dispose scopes) and starts a run.</summary>
        public ScheduleRun Start(Tensor input, IEnumerable<Tensor> side)
        {
            Input = Own(input);
            Side = [.. side.Select(Own)];
            Enter();
            return Run = new ScheduleRun(Chain.Graph, Chain.Nodes, Schedule, Input, Random, Statistics);
        }

        /// <summary>Points the blocks at this run's side inputs.</summary>
        public void Enter()
        {
            var values = new Tensor?[Sides];
            for (int i = 0; i < Places.Length; i++)
                values[Places[i]] = Side[i];
            Reader.Values = values;
        }

        public void Release()
        {
            Run?.Dispose();
            Run = null;
            Input?.Dispose();
            foreach (var t in Side)
                t.Dispose();
        }

        private static Tensor Own(Tensor t) => t.detach().requires_grad_(t.requires_grad).DetachFromDisposeScope();
    }

    public override string Name => "RematCheckpointedSequential";

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var state = (State)vars[0];
        var tensors = vars.Skip(1).Take(1 + state.Places.Length).Cast<Tensor>().ToArray();
        ctx.save_data("state", state);
        ctx.save_for_backward([.. tensors]); // a second backward (retain_graph) runs the forward part again from them
        // Handles of its own, outside the caller's dispose scopes: the caller may dispose its handles once the forward
        // returns (TorchSharp's Sequential does), or a scope around the forward may; the run's tensors are its own too.
        var output = state.Start(tensors[0], tensors.Skip(1)).Forward();
        if (state.Run!.OutputRecorded && !output.requires_grad)
        {
            // The last stage detached its output, so the plain model's output needs no gradient and nothing will
            // back-propagate into this one: it is returned as it is, and the run ends here.
            output = output.detach();
            ctx.mark_non_differentiable([output]);
            state.Release();
            return [output];
        }
        return [output.detach()];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
    {
        var state = (State)ctx.get_data("state");
        return BackwardGuard.Run("a checkpointed sequence", 3 + state.Places.Length, state.Sentinel, () =>
        {
            if (state.Run is null)
            {
                // Another backward through the same graph: the first one consumed the run, so redo its forward part.
                var saved = ctx.get_saved_variables();
                state.Start(saved[0], saved.Skip(1)).Forward();
            }
            try
            {
                state.Enter();
                var inputGradient = state.Run!.Backward(grads[0]);
                // Each block's backward added to the side inputs' gradients: theirs is the sum, as in the plain model.
                return [null!, Wrap(inputGradient), .. state.Side.Select(t => Wrap(t.grad?.detach())), null!];
            }
            finally
            {
                state.Release();
            }
        });
    }

    private static Tensor Wrap(Tensor? gradient) => gradient is null ? null! : FirstOrderOnly.Wrap(gradient);
}
