using Remat.Planners;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Measures a model's stages into a <see cref="Chain"/> (serialisable with <see cref="ChainJson"/>), inside real
/// steps: after a no-grad sweep for the output sizes, it runs measured steps by periodic checkpointing
/// (<see cref="ScheduleExecutor.Measure"/>; every stage is recorded and back-propagated once, most are also run without
/// recording) and reads each figure off the operations of those steps:
/// <list type="bullet">
/// <item>forwardTime: the median wall time of the stage's no-grad forwards (its recorded forward when it has none);</item>
/// <item>backwardTime: the median wall time of its backward;</item>
/// <item>outputBytes: the output tensor's elements times its element size (exact);</item>
/// <item>savedBytes: how far memory rises over its recorded forward (output and saved tensors), at least outputBytes;</item>
/// <item>forwardTempBytes: the peak during the recorded forward above what stays after it;</item>
/// <item>backwardTempBytes: the peak during the backward above the memory before it (so the input gradient is included).</item>
/// </list>
/// The sweep also refuses a stage that changes its input in place, and one whose convolutions libtorch gets wrong on this
/// machine (<see cref="ConvolutionCheck"/>), and finds the stages that declare a part to recompute
/// (<see cref="PartialRecompute"/>): for those, as many steps again record them partially, and their partial records
/// (<see cref="Stage.Partial"/>) are read off those steps. A stage timed or measured alone runs on data its previous run left in the
/// caches and next to allocations a step does not make; inside a step it does not (docs/benchmarks.md). Memory comes
/// from <see cref="DeviceMemory"/>, the sample input's device's: where it cannot be measured, profiling is refused with
/// the cause and the fix, never guessed. Times end when the device has finished the operation's work. The
/// first two steps are left out (the first allocates the parameters' gradients; both warm the runtime). Profiling
/// leaves the stages' parameter gradients, the running statistics of their normalisation layers and the random
/// generators (the CPU's and the input's CUDA device's) as it found them, so it can run in the middle of training (gradient accumulation, dropout, BatchNorm). Its
/// steps are periodic, so it needs about as much memory as periodic checkpointing, not store-all's.
/// </summary>
public static class Profiler
{
    /// <summary>Steps run before the measured ones: the first allocates the gradients, the next warms the runtime.</summary>
    private const int Warmup = 2;

    /// <summary>Profiles <paramref name="stages"/> on <paramref name="sampleInput"/>: each figure is the median over <paramref name="repeats"/> measured steps.</summary>
    public static Chain Profile(IReadOnlyList<nn.Module<Tensor, Tensor>> stages, Tensor sampleInput, int repeats = 3, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(sampleInput);
        // The chain is the graph whose node k reads x_{k-1} (docs/model.md), profiled as one.
        var (graph, nodes) = ScheduleRun.OfChain(stages);
        return Measure(new Model("stage", graph, nodes, [.. stages.Select(s => new nn.Module[] { s })], [.. stages.Select((s, i) => s.GetName() + (i + 1))], name),
            stages.SelectMany(s => s.parameters()), sampleInput, repeats).ToChain();
    }

    /// <summary>Profiles <paramref name="sequential"/>'s children, in order, as <see cref="Profile(IReadOnlyList{nn.Module{Tensor, Tensor}}, Tensor, int, string?)"/>.</summary>
    public static Chain Profile(TorchSharp.Modules.Sequential sequential, Tensor sampleInput, int repeats = 3, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(sequential);
        return Profile([.. sequential.children().Cast<nn.Module<Tensor, Tensor>>()], sampleInput, repeats, name);
    }

    /// <summary>
    /// Profiles a model given as a graph (docs/model.md "Graphs"): node v computes <c>nodes[v - 1]</c> from the outputs of
    /// <c>inputs[v - 1]</c> (0 is the model's input), and a node's inputs come before it. The figures are read as for a
    /// chain, from measured steps of <see cref="GraphExecutor"/> by periodic segments (<see cref="GraphSegments"/>).
    /// The gradients of <paramref name="parameters"/>, the random generator and the running statistics of the normalisation
    /// layers the nodes reach (<see cref="ReachedModules"/>) are left as they were found.
    /// </summary>
    public static Graph Profile(IReadOnlyList<IReadOnlyList<int>> inputs, IReadOnlyList<Func<Tensor[], Tensor>> nodes,
        IEnumerable<TorchSharp.Modules.Parameter> parameters, Tensor sampleInput, int repeats = 3, string? name = null, IReadOnlyList<string>? names = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(sampleInput);
        if (inputs.Count != nodes.Count || names is not null && names.Count != nodes.Count)
            throw new ArgumentException($"give one list of inputs, one function and one name per node: {inputs.Count} inputs, {nodes.Count} functions, {names?.Count ?? nodes.Count} names.");
        int N = nodes.Count;
        string[] labels = [.. Enumerable.Range(1, N).Select(v => names?[v - 1] ?? $"n{v}")];
        // The inputs are checked before anything runs.
        var graph = new Graph(1, labels.Select(l => new Stage(l, 1, 1, 1, 1)), inputs, name);
        return Measure(new Model("node", graph, [.. nodes], [.. nodes.Select(n => ReachedModules.Of(n).ToArray())], labels, name), parameters, sampleInput, repeats);
    }

    /// <summary>A model to profile: what a node is called in an error (a chain's stage, a graph's node), its graph's
    /// shape, its functions, the modules each reaches, the nodes' names and the model's.</summary>
    private sealed record Model(string Word, Graph Shape, Func<Tensor[], Tensor>[] Nodes, nn.Module[][] Reached, string[] Names, string? Name)
    {
        public int N => Nodes.Length;

        public IReadOnlyList<int> Inputs(int v) => Shape.Inputs(v);

        public string What(int v) => $"{Word} {v} ({Names[v - 1]})";

        /// <summary>The graph with the nodes' input bytes and stages.</summary>
        public Graph With(long inputBytes, Func<int, Stage> stage) =>
            new(inputBytes, Enumerable.Range(1, N).Select(stage), Enumerable.Range(1, N).Select(Inputs), Name);
    }

    /// <summary>
    /// Profiles <paramref name="model"/> and leaves the gradients of <paramref name="parameters"/>, the random
    /// generators and the running statistics of the modules the nodes reach as it found them.
    /// </summary>
    private static Graph Measure(Model model, IEnumerable<TorchSharp.Modules.Parameter> parameters, Tensor sampleInput, int repeats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        _ = DeviceMemory.For(sampleInput.device); // refuses, with the fix, a device whose memory cannot be measured
        var kept = parameters.ToArray();
        var gradients = kept.Select(p => p.grad).ToArray();
        using var generators = RandomStates.Preserve(sampleInput.device);
        using var statistics = RunningStatistics.Freeze(model.Reached.SelectMany(r => r));
        try
        {
            foreach (var p in kept)
                p.grad = null;
            return Measure(model, sampleInput, repeats);
        }
        finally
        {
            for (int i = 0; i < kept.Length; i++)
                kept[i].grad = gradients[i];
        }
    }

    private static Graph Measure(Model model, Tensor sampleInput, int repeats)
    {
        int N = model.N;
        var input = sampleInput.detach();
        long inputBytes = Bytes(input);
        var outputs = new long[N + 1];
        var declaring = new List<int>(); // the nodes that declare a part to recompute (PartialRecompute)
        using (var sweep = NewDisposeScope())
        using (no_grad())
        {
            var x = new Tensor[N + 1];
            x[0] = input;
            var needsGradient = new bool[N + 1]; // whether node v's output depends on a trainable parameter
            for (int v = 1; v <= N; v++)
            {
                var inputs = model.Inputs(v);
                Tensor[] xs = [.. inputs.Select(u => x[u])];
                int declared = PartialRecompute.Declared;
                x[v] = RefusingInPlace(model.What(v), xs, model.Nodes[v - 1]);
                if (PartialRecompute.Declared > declared)
                    declaring.Add(v);
                ConvolutionCheck.Verify(model.What(v), model.Reached[v - 1], model.Nodes[v - 1], xs, [.. inputs.Select(u => needsGradient[u] && x[u].is_floating_point())]);
                needsGradient[v] = inputs.Any(u => needsGradient[u]) || model.Reached[v - 1].Any(m => m.parameters().Any(p => p.requires_grad));
                outputs[v] = Bytes(x[v]);
            }
        }
        // The sizes are all periodic segments need to cut the graph.
        var sized = model.With(inputBytes, v => new Stage(model.Names[v - 1], 1, 1, outputs[v], outputs[v]));
        var schedule = GraphSegments.Plan(sized, new Periodic().SegmentsFor(N));
        var executor = new GraphExecutor(sized, model.Nodes, () => new RunningStatistics(model.Reached));
        var samples = Collect(N, inputBytes, repeats, schedule, () => executor.Measure(schedule, input, y => y.sum()).Trace);
        // The partial records of the nodes that declare a part: the same steps with those nodes recorded partially.
        var partialSchedule = new Schedule(schedule.Strategy, schedule.Ops, declaring);
        var partial = declaring.Count == 0 ? null
            : Collect(N, inputBytes, repeats, partialSchedule, () => executor.Measure(partialSchedule, input, y => y.sum()).Trace);
        return model.With(inputBytes, v =>
        {
            var stage = samples.Stage(v, model.Names[v - 1], outputs[v]);
            return partial is not null && declaring.Contains(v) ? stage with { Partial = partial.PartialOf(v, stage) } : stage;
        });
    }

    /// <summary>
    /// Runs a stage (or node) of the no-grad sweep, and refuses it when it changed an input in place (ReLU or Dropout
    /// with <c>inplace: true</c> applied to it). A stage is run again from the input that was kept, which must still hold
    /// the first run's values, and a recording run's input is a leaf that libtorch refuses to change in place.
    /// </summary>
    private static Tensor RefusingInPlace(string what, Tensor[] inputs, Func<Tensor[], Tensor> run)
    {
        var copies = inputs.Select(t => t.clone()).ToArray();
        var output = StageOutput.Own(run(inputs), inputs);
        bool changed = copies.Zip(inputs).Any(p => !p.First.eq(p.Second).logical_or(p.First.isnan().logical_and(p.Second.isnan())).all().item<bool>());
        foreach (var c in copies)
            c.Dispose();
        if (changed)
            throw new RematException($"{what} changes its input in place (an operation with inplace: true applied to it, such as ReLU or " +
                                     "Dropout): a checkpointed stage runs again from its kept input, which must keep the first run's values. " +
                                     "Make that operation out of place, or move it to the end of the stage before.");
        return output;
    }

    /// <summary>Runs <see cref="Warmup"/> steps, then <paramref name="repeats"/> measured ones, and gathers their figures.</summary>
    private static Samples Collect(int stages, long inputBytes, int repeats, Schedule schedule, Func<Trace> step)
    {
        var samples = new Samples(stages);
        for (int r = -Warmup; r < repeats; r++)
        {
            using var scope = NewDisposeScope();
            var trace = step();
            if (r >= 0) // warm-up: the first step allocates the parameters' gradients, the next warms libtorch's threads
                samples.Add(schedule, trace, inputBytes);
        }
        return samples;
    }

    /// <summary>Each stage's figures over the measured steps, read off their operations.</summary>
    private sealed class Samples(int stages)
    {
        private readonly List<double>[] _forward = New(stages), _recorded = New(stages), _backward = New(stages),
            _saved = New(stages), _forwardTemp = New(stages), _backwardTemp = New(stages);

        public void Add(Schedule schedule, Trace trace, long inputBytes)
        {
            for (int i = 0; i < schedule.Ops.Count; i++)
            {
                var op = schedule.Ops[i];
                int k = op.Stage;
                double time = trace.TimeAfter[i] - (i == 0 ? 0 : trace.TimeAfter[i - 1]);
                long before = i == 0 ? inputBytes : trace.MemoryAfter[i - 1], after = trace.MemoryAfter[i], peak = trace.PeakDuring[i];
                switch (op.Kind)
                {
                    case OpKind.Fn or OpKind.Fck:
                        _forward[k].Add(time);
                        break;
                    case OpKind.Fe:
                        _recorded[k].Add(time);
                        _saved[k].Add(after - before);
                        _forwardTemp[k].Add(peak - after);
                        break;
                    case OpKind.B:
                        _backward[k].Add(time);
                        _backwardTemp[k].Add(peak - before);
                        break;
                }
            }
        }

        public Stage Stage(int k, string name, long outputBytes) => new(
            name,
            Median(_forward[k].Count > 0 ? _forward[k] : _recorded[k]),
            Median(_backward[k]),
            outputBytes,
            Math.Max(outputBytes, (long)Median(_saved[k])),
            Math.Max(0, (long)Median(_forwardTemp[k])),
            Math.Max(0, (long)Median(_backwardTemp[k])));

        /// <summary>
        /// Stage k's partial record, read off steps that recorded it partially: what the record kept (between the
        /// output and the full record, which rounding could cross), its backward and that backward's temporaries, and
        /// the temporaries of the forward that made it.
        /// </summary>
        public PartialRecord PartialOf(int k, Stage full) => new(
            Math.Clamp((long)Median(_saved[k]), full.OutputBytes, full.SavedBytes),
            Median(_backward[k]),
            Math.Max(0, (long)Median(_backwardTemp[k])),
            Math.Max(0, (long)Median(_forwardTemp[k])));

        private static List<double>[] New(int stages) => [.. Enumerable.Range(0, stages + 1).Select(_ => new List<double>())];
    }

    private static long Bytes(Tensor t) => t.numel() * t.ElementSize;

    private static double Median(List<double> samples)
    {
        var sorted = samples.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
