using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Runs one training step of a model given as a graph of nodes by a graph schedule of the core
/// (<see cref="Graph"/>, docs/model.md "Graphs"), op by op: <c>Fck</c>/<c>Fn</c> run a node under no-grad,
/// <c>Fe</c> records it on detached inputs, <c>B(v)</c> back-propagates the record with <c>d_v</c> and adds each
/// input's gradient to <c>d_u</c>, and every tensor an operation frees is disposed at once. Parameter gradients
/// accumulate into <c>.grad</c> as in a plain step, and the input's gradient flows on when it requires grad. A node run
/// a second time replays the random state of its first run (dropout draws the same mask, CPU generator), and leaves the
/// running statistics of the normalisation layers its function reaches as it found them (<see cref="RunningStatistics"/>).
/// </summary>
public sealed class GraphExecutor
{
    private readonly Graph _graph;
    private readonly Func<Tensor[], Tensor>[] _nodes;

    /// <summary>
    /// An executor for <paramref name="graph"/>: <c>nodes[v - 1]</c> computes node v from the outputs of
    /// <c>graph.Inputs(v)</c>, in that order (a module's forward, an addition, a concatenation).
    /// </summary>
    public GraphExecutor(Graph graph, IEnumerable<Func<Tensor[], Tensor>> nodes)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(nodes);
        _graph = graph;
        _nodes = nodes.ToArray();
        if (_nodes.Length != graph.Count)
            throw new ArgumentException($"the graph has {graph.Count} nodes and {_nodes.Length} functions were given; give one per node.", nameof(nodes));
    }

    /// <summary>
    /// Runs <paramref name="schedule"/> for one step on <paramref name="input"/> and returns the loss. The schedule is
    /// checked by the graph simulator first: an invalid one throws <see cref="ScheduleException"/> before anything runs.
    /// </summary>
    public float Step(Schedule schedule, Tensor input, Func<Tensor, Tensor> loss) => Run(schedule, input, loss, null);

    /// <summary>
    /// As <see cref="Step"/>, and measures every operation: its wall time, the memory after it and the peak during it
    /// (<see cref="ScheduleExecutor.Measure"/>), so the trace compares op by op with the graph simulator's.
    /// </summary>
    public MeasuredStep Measure(Schedule schedule, Tensor input, Func<Tensor, Tensor> loss) =>
        OpRecorder.Measure(schedule, _graph.Count, input, recorder => Run(schedule, input, loss, recorder));

    private float Run(Schedule schedule, Tensor input, Func<Tensor, Tensor> loss, OpRecorder? recorder)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(loss);
        GraphSimulator.Run(_graph, schedule);
        int N = _graph.Count;
        var plain = new Tensor?[N + 1];
        var records = new (Tensor[] Inputs, Tensor Output)?[N + 1];
        var gradients = new Tensor?[N + 1];
        var waiting = Enumerable.Range(0, N + 1).Select(v => _graph.Consumers(v).Count).ToArray();
        using var random = RandomStates.For(N, input.device);
        var statistics = RunningStatistics.OfFunctions(_nodes);
        plain[0] = input;
        float value = 0;
        Tensor Available(int u) => plain[u] ?? records[u]?.Output ?? throw new InvalidOperationException($"x_{u} is not stored.");
        Tensor Compute(int v, Tensor[] xs)
        {
            using var replay = random.Enter(v);
            using var frozen = statistics.Enter(v);
            return StageOutput.Own(_nodes[v - 1](xs), xs);
        }
        void Apply(Op op)
        {
            int v = op.Stage;
            switch (op.Kind)
            {
                case OpKind.Fck or OpKind.Fn:
                {
                    var xs = _graph.Inputs(v).Select(Available).ToArray();
                    using (var scope = NewDisposeScope())
                    using (no_grad())
                        plain[v] = Compute(v, xs).MoveToOuterDisposeScope();
                    if (op.Kind == OpKind.Fn)
                        foreach (int u in _graph.Inputs(v).Where(u => u > 0 && _graph.Consumers(u).Count == 1))
                            Free(ref plain[u]);
                    break;
                }
                case OpKind.Fe:
                {
                    var xs = _graph.Inputs(v).Select(u => Available(u).detach().requires_grad_(u > 0 || input.requires_grad)).ToArray();
                    using (var scope = NewDisposeScope())
                    using (enable_grad())
                        records[v] = (xs, Compute(v, xs).MoveToOuterDisposeScope());
                    break;
                }
                case OpKind.Free:
                    Free(ref plain[v]);
                    break;
                case OpKind.Loss:
                {
                    var z = Available(N).detach().requires_grad_(true);
                    using (var scope = NewDisposeScope())
                    {
                        using (enable_grad())
                        {
                            var l = loss(z);
                            l.backward();
                            value = l.to_type(ScalarType.Float32).item<float>(); // a bf16 or fp16 loss too
                        }
                        gradients[N] = z.grad!.detach().MoveToOuterDisposeScope();
                    }
                    z.Dispose();
                    Free(ref plain[N]);
                    break;
                }
                case OpKind.B:
                {
                    var (xs, output) = records[v]!.Value;
                    // Nothing flows back where the node's output needs no gradient (a node without parameters on the
                    // input without grad) or where no reader sent one, as in the plain step.
                    if (gradients[v] is { } gradient && output.requires_grad)
                        using (var scope = NewDisposeScope())
                        {
                            using (enable_grad())
                                output.backward([gradient]);
                            var ins = _graph.Inputs(v);
                            for (int i = 0; i < ins.Count; i++)
                            {
                                int u = ins[i];
                                if (xs[i].grad is not { } g)
                                    continue;
                                if (gradients[u] is { } sum)
                                    sum.add_(g); // d_u gathers every reader's contribution
                                else
                                    gradients[u] = g.detach().clone().MoveToOuterDisposeScope();
                            }
                        }
                    output.Dispose();
                    foreach (var x in xs)
                        x.Dispose();
                    records[v] = null;
                    Free(ref gradients[v]);
                    Free(ref plain[v]); // dead: docs/model.md
                    foreach (int u in _graph.Inputs(v))
                        if (--waiting[u] == 0 && u > 0)
                            Free(ref plain[u]); // no forward can need x_u any more
                    break;
                }
            }
        }
        try
        {
            for (int i = 0; i < schedule.Ops.Count; i++)
            {
                var op = schedule.Ops[i];
                if (recorder is null)
                    Apply(op);
                else
                    recorder.Measure(i, () => Apply(op));
            }
            if (gradients[0] is { } inputGradient && input.requires_grad)
                input.backward([inputGradient]);
            return value;
        }
        finally
        {
            for (int v = 1; v <= N; v++)
            {
                Free(ref plain[v]);
                if (records[v] is { } r)
                {
                    r.Output.Dispose();
                    foreach (var x in r.Inputs)
                        x.Dispose();
                }
            }
            for (int v = 0; v <= N; v++)
                Free(ref gradients[v]);
        }
    }

    private static void Free(ref Tensor? tensor)
    {
        tensor?.Dispose();
        tensor = null;
    }
}
