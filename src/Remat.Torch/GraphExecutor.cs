using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Runs one training step of a model given as a graph of nodes by a graph schedule of the core (<see cref="Graph"/>,
/// docs/model.md "Graphs"), op by op: <c>Fck</c>/<c>Fn</c> run a node under no-grad, <c>Fe</c> records it on detached
/// inputs (partially, for the nodes the schedule names), <c>B(v)</c> back-propagates the record with <c>d_v</c> and
/// adds each input's gradient to <c>d_u</c>, and every tensor an operation frees is disposed at once. Parameter
/// gradients accumulate into <c>.grad</c> as in a plain step, and the input's gradient flows on when it requires grad.
/// A node run a second time replays the random state of its first run (dropout draws the same mask;
/// <see cref="RandomStates"/>), and leaves the running statistics of the normalisation layers its function reaches as
/// it found them (<see cref="RunningStatistics"/>).
/// </summary>
public sealed class GraphExecutor
{
    private readonly Graph _graph;
    private readonly Func<Tensor[], Tensor>[] _nodes;
    private readonly Func<RunningStatistics> _statistics;

    /// <summary>
    /// An executor for <paramref name="graph"/>: <c>nodes[v - 1]</c> computes node v from the outputs of
    /// <c>graph.Inputs(v)</c>, in that order (a module's forward, an addition, a concatenation).
    /// </summary>
    public GraphExecutor(Graph graph, IEnumerable<Func<Tensor[], Tensor>> nodes)
        : this(graph, nodes?.ToArray()!, null)
    {
    }

    /// <summary>An executor whose nodes reach the normalisation layers <paramref name="statistics"/> names, each step afresh.</summary>
    internal GraphExecutor(Graph graph, Func<Tensor[], Tensor>[] nodes, Func<RunningStatistics>? statistics)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(nodes);
        _graph = graph;
        _nodes = nodes;
        if (_nodes.Length != graph.Count)
            throw new ArgumentException($"the graph has {graph.Count} nodes and {_nodes.Length} functions were given; give one per node.", nameof(nodes));
        _statistics = statistics ?? (() => RunningStatistics.OfFunctions(_nodes));
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
        using var random = RandomStates.For(_graph.Count, input.device);
        using var run = new ScheduleRun(_graph, _nodes, schedule, input, random, _statistics(), recorder);
        var output = run.Forward();
        float value = 0;
        Tensor? gradient = null;
        void Loss()
        {
            var z = output.detach().requires_grad_(true);
            using (var scope = NewDisposeScope())
            {
                using (enable_grad())
                {
                    var l = loss(z);
                    l.backward();
                    value = l.to_type(ScalarType.Float32).item<float>(); // a bf16 or fp16 loss too
                }
                gradient = z.grad!.detach().MoveToOuterDisposeScope();
            }
            z.Dispose();
            run.ReleaseOutput();
        }
        if (recorder is null)
            Loss();
        else
            recorder.Measure(run.LossIndex, Loss);
        if (run.Backward(gradient!) is { } inputGradient)
        {
            // d_0 flows on into whatever produced the input (an embedding, a stem) or into a leaf's .grad.
            input.backward([inputGradient]);
            inputGradient.Dispose();
        }
        return value;
    }
}
