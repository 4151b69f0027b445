using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// One run of a schedule on a model given as a graph of functions (a chain is the graph whose node k reads x_{k-1}),
/// in two halves around its <c>Loss</c> operation: <see cref="Forward"/> runs the operations before it and gives
/// <c>x_N</c>; <see cref="Backward"/> takes <c>d_N</c>, runs the rest (recomputations and per-node backward) and gives
/// <c>d_0</c>. The schedule is checked by the graph simulator before anything runs. The tensors the run keeps are its
/// own, outside every dispose scope, so a scope around the forward half leaves them to the backward half. The memory
/// rules are the model's (docs/model.md): <c>Fn</c>/<c>Fck</c> run a node under no-grad, <c>Fe</c> records it on
/// detached inputs (partially when the schedule says so), <c>B(v)</c> back-propagates the record with <c>d_v</c> and adds
/// each input's gradient to <c>d_u</c>, and every tensor an operation frees is disposed at once. A node run a second
/// time replays the random state of its first run (<see cref="RandomStates"/>), so dropout draws the same mask, as
/// PyTorch's checkpoint does with <c>preserve_rng_state</c>, and leaves the running statistics of its normalisation
/// layers as it found them (<see cref="RunningStatistics"/>).
/// </summary>
internal sealed class ScheduleRun : IDisposable
{
    private readonly Graph _graph;
    private readonly Func<Tensor[], Tensor>[] _nodes;
    private readonly Schedule _schedule;
    private readonly Tensor _input;
    private readonly RandomStates _random;
    private readonly RunningStatistics _statistics;
    private readonly OpRecorder? _recorder;
    private readonly Tensor?[] _plain, _gradients;
    private readonly (Tensor[] Inputs, Tensor Output)?[] _records;
    private readonly int[] _waiting; // per output: the readers whose backward has not run
    private int _next; // the index of the next operation to run

    /// <summary>
    /// A run of <paramref name="schedule"/> on <paramref name="input"/>, where <c>nodes[v - 1]</c> computes node v of
    /// <paramref name="graph"/> from its inputs' outputs, with the random states of the nodes' first runs and their
    /// running statistics (which only a first run updates); a <paramref name="recorder"/> measures each operation.
    /// Throws <see cref="ScheduleException"/> for a schedule the graph simulator refuses.
    /// </summary>
    public ScheduleRun(Graph graph, Func<Tensor[], Tensor>[] nodes, Schedule schedule, Tensor input, RandomStates random,
        RunningStatistics statistics, OpRecorder? recorder = null)
    {
        Check(graph, schedule);
        _graph = graph;
        _nodes = nodes;
        _schedule = schedule;
        _input = input;
        _random = random;
        _statistics = statistics;
        _recorder = recorder;
        int N = graph.Count;
        _plain = new Tensor?[N + 1];
        _gradients = new Tensor?[N + 1];
        _records = new (Tensor[], Tensor)?[N + 1];
        _waiting = [.. Enumerable.Range(0, N + 1).Select(u => graph.Consumers(u).Count)];
        _plain[0] = input;
    }

    private int N => _graph.Count;

    // The graph each schedule was last checked on: a training loop runs the same schedule on the same graph every step.
    private static readonly ConditionalWeakTable<Schedule, Graph> Checked = [];

    /// <summary>Replays <paramref name="schedule"/> in the graph simulator once per graph it runs on; an invalid one throws.</summary>
    private static void Check(Graph graph, Schedule schedule)
    {
        if (Checked.TryGetValue(schedule, out var last) && ReferenceEquals(last, graph))
            return;
        // The graph gives the shape only, so the check leaves out the partial records: they change sizes, not validity.
        GraphSimulator.Run(graph, schedule.PartialRecords.Count == 0 ? schedule : new Schedule(schedule.Strategy, schedule.Ops));
        Checked.AddOrUpdate(schedule, graph);
    }

    /// <summary>A chain of modules as a run takes it: the graph whose node k reads x_{k-1}, and the stages' forwards.</summary>
    public static (Graph Graph, Func<Tensor[], Tensor>[] Nodes) OfChain(IReadOnlyList<nn.Module<Tensor, Tensor>> stages) =>
        (Graph.FromChain(Chain.Uniform(stages.Count, 0, 0)), [.. stages.Select(m => (Func<Tensor[], Tensor>)(xs => m.forward(xs[0])))]);

    /// <summary>The index of the schedule's <c>Loss</c> operation, once <see cref="Forward"/> has run.</summary>
    public int LossIndex => _next;

    /// <summary>Runs the operations before <c>Loss</c> and returns <c>x_N</c>, which stays the run's until <see cref="Backward"/>.</summary>
    public Tensor Forward()
    {
        for (; _schedule.Ops[_next].Kind != OpKind.Loss; _next++)
            Measured(_next);
        return Available(N);
    }

    /// <summary>Whether <c>x_N</c>, once <see cref="Forward"/> has run, is the output of the last node's record (so its
    /// <c>requires_grad</c> is the plain model's).</summary>
    public bool OutputRecorded => _plain[N] is null && _records[N] is not null;

    /// <summary>The end of the <c>Loss</c> operation: a plain <c>x_N</c> is freed once <c>d_N</c> exists.</summary>
    public void ReleaseOutput() => Free(ref _plain[N]);

    /// <summary>
    /// Takes <paramref name="outputGradient"/> as <c>d_N</c> (made by the <c>Loss</c> operation, after which
    /// <see cref="ReleaseOutput"/> runs), runs the rest of the schedule, and returns <c>d_0</c> when the input requires
    /// grad (else null).
    /// </summary>
    public Tensor? Backward(Tensor outputGradient)
    {
        ReleaseOutput();
        _gradients[N] = outputGradient;
        for (_next++; _next < _schedule.Ops.Count; _next++)
            Measured(_next);
        var inputGradient = _gradients[0]; // null unless the input requires grad: its record's copy did not
        _gradients[0] = null;
        return inputGradient;
    }

    private void Measured(int index)
    {
        if (_recorder is null)
            Execute(_schedule.Ops[index]);
        else
            _recorder.Measure(index, () => Execute(_schedule.Ops[index]));
    }

    private void Execute(Op op)
    {
        int v = op.Stage;
        var inputs = _graph.Inputs(v);
        switch (op.Kind)
        {
            case OpKind.Fn or OpKind.Fck:
            {
                var xs = inputs.Select(Available).ToArray();
                using (var scope = NewDisposeScope())
                using (no_grad())
                    _plain[v] = RunNode(v, xs).DetachFromDisposeScope();
                if (op.Kind == OpKind.Fn)
                    foreach (int u in inputs.Where(u => u > 0 && _graph.Consumers(u).Count == 1))
                        Free(ref _plain[u]);
                break;
            }
            case OpKind.Fe:
            {
                var xs = inputs.Select(u => Available(u).detach().requires_grad_(u > 0 || _input.requires_grad).DetachFromDisposeScope()).ToArray();
                using (var scope = NewDisposeScope())
                using (enable_grad())
                using (_schedule.PartialRecords.Contains(v) ? PartialRecompute.Enter() : null) // the declared part left out of the record
                    _records[v] = (xs, RunNode(v, xs).DetachFromDisposeScope());
                break;
            }
            case OpKind.Free:
                Free(ref _plain[v]);
                break;
            case OpKind.B:
            {
                var (xs, output) = _records[v]!.Value;
                // Nothing flows back where the node's output needs no gradient (a first node without parameters on an
                // input without grad: a flatten, a pooling) or where no reader sent one (a node that detached), as in
                // the plain step: the nodes before get none from it.
                if (_gradients[v] is { } gradient && output.requires_grad)
                    using (var scope = NewDisposeScope())
                    {
                        using (enable_grad())
                            output.backward([gradient]);
                        for (int i = 0; i < inputs.Count; i++)
                        {
                            int u = inputs[i];
                            if (xs[i].grad is not { } g)
                                continue;
                            if (_gradients[u] is { } sum)
                                sum.add_(g); // d_u gathers every reader's contribution
                            else // a gradient other readers add to is a copy: libtorch may hand two inputs one tensor
                                _gradients[u] = (_graph.Consumers(u).Count > 1 ? g.detach().clone() : g.detach()).MoveToOuterDisposeScope();
                        }
                    }
                output.Dispose();
                foreach (var x in xs)
                    x.Dispose();
                _records[v] = null;
                Free(ref _gradients[v]);
                Free(ref _plain[v]); // dead: docs/model.md
                foreach (int u in inputs)
                    if (--_waiting[u] == 0 && u > 0)
                        Free(ref _plain[u]); // no forward can need x_u any more
                break;
            }
        }
    }

    /// <summary>
    /// Runs node v, replaying the random state of its first run and leaving its running statistics alone when it is a
    /// recomputation.
    /// </summary>
    private Tensor RunNode(int v, Tensor[] xs)
    {
        using var replay = _random.Enter(v);
        using var statistics = _statistics.Enter(v);
        return StageOutput.Own(_nodes[v - 1](xs), xs);
    }

    // The simulator checked the schedule: what an operation reads is stored.
    private Tensor Available(int u) => _plain[u] ?? _records[u]!.Value.Output;

    private static void Free(ref Tensor? tensor)
    {
        tensor?.Dispose();
        tensor = null;
    }

    /// <summary>Disposes what the run still holds (everything, when it stopped half-way).</summary>
    public void Dispose()
    {
        for (int v = 1; v <= N; v++)
        {
            Free(ref _plain[v]);
            if (_records[v] is { } r)
            {
                r.Output.Dispose();
                foreach (var x in r.Inputs)
                    x.Dispose();
                _records[v] = null;
            }
        }
        for (int v = 0; v <= N; v++)
            Free(ref _gradients[v]);
    }
}
