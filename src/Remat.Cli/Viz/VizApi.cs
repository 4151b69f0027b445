using Remat.Planners;
using Remat.Transformers;

namespace Remat.Cli.Viz;

/// <summary>Which chain to plan: a generated one, or a chain file's JSON.</summary>
internal sealed record ChainRequest(int Layers = 12, string Kind = "uniform", int Seed = 42, string? Json = null);

/// <summary>A plan to make: the chain, the strategy and its settings.</summary>
internal sealed record PlanRequest(ChainRequest Chain, string Strategy = "optimal", long? BudgetBytes = null, int? Segments = null, int? Snapshots = null);

/// <summary>A stage as the page draws it.</summary>
internal sealed record StageView(string Name, long OutputBytes, long SavedBytes, double ForwardTime, double BackwardTime);

/// <summary>One operation of a schedule.</summary>
internal sealed record OpView(string Op, int Stage);

/// <summary>A plan with the simulator's trace, op by op.</summary>
internal sealed record PlanResponse(
    string Strategy, long InputBytes, IReadOnlyList<StageView> Stages, long? BudgetBytes, long MinimumBytes, long StoreAllPeakBytes,
    long PeakBytes, double Time, double BaselineTime, double Overhead, long ForwardCount,
    IReadOnlyList<OpView> Ops, IReadOnlyList<long> MemoryAfter, IReadOnlyList<long> PeakDuring, IReadOnlyList<double> TimeAfter)
{
    /// <summary>A measured step of the same schedule (<c>remat train --html</c>), drawn beside the plan; null for a plan alone.</summary>
    public TraceView? Measured { get; init; }
}

/// <summary>A trace as the page draws it: memory after and peak during each operation, cumulative time after each.</summary>
internal sealed record TraceView(IReadOnlyList<long> MemoryAfter, IReadOnlyList<long> PeakDuring, IReadOnlyList<double> TimeAfter, long PeakBytes, double Time)
{
    public static TraceView Of(Trace trace) => new(trace.MemoryAfter, trace.PeakDuring, trace.TimeAfter, trace.PeakBytes, trace.Time);
}

/// <summary>A (peak, time) point.</summary>
internal sealed record Point(string Label, long PeakBytes, double Time);

/// <summary>Periodic checkpointing with n segments: its peak, time and their product.</summary>
internal sealed record SegmentPoint(int Segments, long PeakBytes, double Time, double Product);

/// <summary>The trade-off of a chain: the frontier, every strategy, and the product curve over segments.</summary>
internal sealed record TradeoffResponse(IReadOnlyList<Point> Frontier, IReadOnlyList<Point> Strategies, Point SqrtPoint, IReadOnlyList<SegmentPoint> Segments, int SqrtSegments);

/// <summary>Peak memory of the first <see cref="Layers"/> layers: store-all's, periodic checkpointing's with round(sqrt L) segments, and the least any schedule needs.</summary>
internal sealed record ScalingPoint(int Layers, long StoreAllBytes, long SqrtBytes, long MinimumBytes);

/// <summary>A recompute mode of a transformer layer: what it keeps, and what it costs.</summary>
internal sealed record RecomputePoint(string Mode, double ActivationBytesPerLayer, double ComputeOverhead);

/// <summary>The concept's claims, measured on the chain on screen (and, for selective recompute, on a transformer).</summary>
internal sealed record ConceptResponse(
    IReadOnlyList<ScalingPoint> Scaling, double ForwardShare, double SqrtOverhead, int SqrtSegments, string Transformer, IReadOnlyList<RecomputePoint> Recompute);

/// <summary>A graph to plan: a synthetic model (unet or resnet) and the budget as a share of store-all's peak.</summary>
internal sealed record GraphRequest(string Model = "unet", double BudgetFraction = 0.75, double TimeLimitSeconds = 5, string Strategy = "optimal");

/// <summary>A node of a planned graph: its name, inputs and output, how often the plan runs its forward, and whether an early Free drops its output.</summary>
internal sealed record NodeView(string Name, IReadOnlyList<int> Inputs, long OutputBytes, int Forwards, bool Freed);

/// <summary>A graph's CP-SAT plan as the page draws it.</summary>
internal sealed record GraphResponse(
    string Model, string Strategy, IReadOnlyList<NodeView> Nodes, IReadOnlyList<OpView> Ops, IReadOnlyList<long> MemoryAfter, IReadOnlyList<long> PeakDuring,
    long BudgetBytes, long StoreAllPeakBytes, long PeakBytes, double Time, double BaselineTime, bool Optimal, double? Gap);

/// <summary>The requests of the page's JSON API, answered by the core planners and simulator.</summary>
internal static class VizApi
{
    /// <summary>The longest generated chain the page asks for.</summary>
    public const int MaxLayers = 400;

    /// <summary>Chains up to this many stages are planned at the default slots; longer ones at <see cref="CoarseSlots"/>, to answer in seconds.</summary>
    public const int FineUpTo = 100;

    /// <summary>The slots of the optimal plan for chains longer than <see cref="FineUpTo"/>.</summary>
    public const int CoarseSlots = 200;

    /// <summary>The chain a request names; bad input throws <see cref="ChainException"/> or <see cref="UsageException"/>.</summary>
    public static Chain Chain(ChainRequest request)
    {
        if (request.Json is { } json)
            return ChainJson.Parse(json, "the chain file");
        if (request.Layers is < 1 or > MaxLayers)
            throw new UsageException($"layers is {request.Layers}; the page plans 1 to {MaxLayers} layers.");
        return request.Kind == "heterogeneous"
            ? Remat.Chain.Heterogeneous(request.Layers, request.Seed)
            : Remat.Chain.Uniform(request.Layers, 32L << 20, 96L << 20, 1, 2);
    }

    /// <summary>Plans and simulates; a budget below the minimum throws <see cref="InfeasibleBudgetException"/>.</summary>
    public static PlanResponse Plan(PlanRequest request)
    {
        var chain = Chain(request.Chain);
        long storeAll = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;
        var strategy = Strategies.Get(request.Strategy);
        var options = new PlanOptions
        {
            Strategy = strategy.Name, Segments = request.Segments, Snapshots = request.Snapshots,
            Slots = chain.Length > FineUpTo ? CoarseSlots : null,
        };
        long? budget = request.BudgetBytes ?? (strategy.TakesBudget ? storeAll : null);
        return Describe(chain, Simulator.Run(chain, strategy.Create(chain, options, budget).Plan(chain)), request.BudgetBytes);
    }

    /// <summary>A simulated plan as the page draws it.</summary>
    public static PlanResponse Describe(Chain chain, Trace trace, long? budgetBytes)
    {
        long storeAll = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;
        long minimum = Optimal.MinimumBudget(chain);
        return new PlanResponse(
            trace.Schedule.Strategy, chain.InputBytes,
            chain.Stages.Select(s => new StageView(s.Name, s.OutputBytes, s.SavedBytes, s.ForwardTime, s.BackwardTime)).ToList(),
            budgetBytes, minimum, storeAll, trace.PeakBytes, trace.Time, chain.BaselineTime, trace.Time / chain.BaselineTime - 1,
            trace.ForwardCount, trace.Schedule.Ops.Select(o => new OpView(o.Kind.ToString(), o.Stage)).ToList(),
            trace.MemoryAfter, trace.PeakDuring, trace.TimeAfter);
    }

    /// <summary>The frontier, every strategy's point, and periodic checkpointing for every number of segments.</summary>
    public static TradeoffResponse Tradeoff(ChainRequest request) => Tradeoff(Chain(request));

    /// <summary>The frontier, every strategy's point, and periodic checkpointing for every number of segments.</summary>
    public static TradeoffResponse Tradeoff(Chain chain)
    {
        if (chain.Length > MaxLayers)
            throw new UsageException($"the trade-off view plans the frontier for chains of up to {MaxLayers} stages; this one has {chain.Length}.");
        Point At(string label, IPlanner planner)
        {
            var t = Simulator.Run(chain, planner.Plan(chain));
            return new Point(label, t.PeakBytes, t.Time);
        }
        int sqrt = new Periodic().SegmentsFor(chain.Length);
        var strategies = new List<Point>
        {
            At("store-all", new StoreAll()),
            At($"periodic ({sqrt} segments)", new Periodic()),
            At($"revolve ({sqrt} snapshots)", new Revolve(sqrt)),
            At("chen", new ChenGreedy()),
        };
        var frontier = ParetoFrontier.Compute(chain, slots: 100, alsoAt: strategies.Select(p => p.PeakBytes))
            .Select(p => new Point("optimal", p.PeakBytes, p.Time)).ToList();
        long halfway = frontier[0].PeakBytes + (frontier[^1].PeakBytes - frontier[0].PeakBytes) / 2;
        var optimal = frontier.Last(p => p.PeakBytes <= halfway);
        strategies.Add(optimal with { Label = "optimal (halfway budget)" });
        int step = Math.Max(1, chain.Length / 60); // at most ~60 points on the product curve
        var segments = Enumerable.Range(1, chain.Length).Where(n => n % step == 0 || n == 1 || n == sqrt).Select(n =>
        {
            var t = Simulator.Run(chain, new Periodic(n).Plan(chain));
            return new SegmentPoint(n, t.PeakBytes, t.Time, (double)t.PeakBytes * t.Time);
        }).ToList();
        return new TradeoffResponse(frontier, strategies, strategies[1], segments, sqrt);
    }

    /// <summary>
    /// Plans a synthetic graph (<see cref="GraphModels"/>) with a strategy that plans graphs: optimal (CP-SAT) at a share of
    /// store-all's peak, within a time limit of at most 30 s, or store-all or periodic segments (which take no budget), and
    /// describes each node: how often it is forwarded and whether its output is freed early.
    /// The solver stops when <paramref name="aborted"/> is cancelled (the page went away).
    /// </summary>
    public static GraphResponse Graph(GraphRequest request, CancellationToken aborted = default)
    {
        var graph = request.Model switch
        {
            "unet" => GraphModels.UNet(),
            "resnet" => GraphModels.ResNet(),
            _ => throw new UsageException($"model is '{request.Model}'; the page plans unet or resnet."),
        };
        if (!(request.BudgetFraction is > 0 and <= 1))
            throw new UsageException($"budgetFraction is {request.BudgetFraction}; give a share of store-all's peak in (0, 1].");
        if (!(request.TimeLimitSeconds is > 0 and <= 30))
            throw new UsageException($"timeLimitSeconds is {request.TimeLimitSeconds}; the page gives the solver 0 to 30 s.");
        var strategy = Strategies.Get(request.Strategy);
        if (strategy.PlanGraph is null)
            throw new UsageException($"strategy is '{request.Strategy}'; the page plans graphs with {string.Join(", ", Strategies.All.Where(s => s.PlanGraph is not null).Select(s => s.Name))}.");
        long storeAll = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
        long budget = (long)(storeAll * request.BudgetFraction);
        // A strategy that takes no budget plans without it, so the page shows where its peak lies against the budget.
        var plan = Planner.Plan(graph, new PlanOptions
        {
            Strategy = strategy.Name, BudgetBytes = strategy.TakesBudget ? budget : null, TimeLimit = TimeSpan.FromSeconds(request.TimeLimitSeconds),
        }, aborted);
        var trace = plan.Trace;
        var freed = trace.Schedule.Ops.Where(o => o.Kind == OpKind.Free).Select(o => o.Stage).ToHashSet();
        var nodes = Enumerable.Range(1, graph.Count).Select(v =>
            new NodeView(graph[v].Name, graph.Inputs(v), graph[v].OutputBytes, trace.ForwardsPerStage[v - 1], freed.Contains(v))).ToList();
        return new GraphResponse(request.Model, strategy.Name, nodes, trace.Schedule.Ops.Select(o => new OpView(o.Kind.ToString(), o.Stage)).ToList(),
            trace.MemoryAfter, trace.PeakDuring, budget, storeAll, trace.PeakBytes, trace.Time, graph.BaselineTime, plan.Gap == 0, plan.Gap);
    }

    /// <summary>
    /// The seed's claims on this chain: peak memory over depth for store-all (O(L)) and sqrt(L) checkpointing
    /// (O(sqrt L)), over the chain's first layers; what one extra forward costs (sum f / (sum f + sum b)) against what the
    /// sqrt(L) plan costs; and selective against full recompute of a GPT-175B layer (t = 8, sequence parallel).
    /// </summary>
    public static ConceptResponse Concept(ChainRequest request)
    {
        var chain = Chain(request);
        if (chain.Length > MaxLayers)
            throw new UsageException($"the concept view measures chains of up to {MaxLayers} stages; this one has {chain.Length}.");
        var lengths = Enumerable.Range(1, 12).Select(i => Math.Max(1, (int)Math.Round(chain.Length * i / 12.0))).Distinct();
        var scaling = lengths.Select(l =>
        {
            var prefix = new Chain(chain.InputBytes, chain.Stages.Take(l), chain.Name);
            long Peak(IPlanner planner) => Simulator.Run(prefix, planner.Plan(prefix)).PeakBytes;
            return new ScalingPoint(l, Peak(new StoreAll()), Peak(new Periodic()), Optimal.MinimumBudget(prefix));
        }).ToList();
        double f = chain.Stages.Sum(s => s.ForwardTime), b = chain.Stages.Sum(s => s.BackwardTime);
        var sqrt = Simulator.Run(chain, new Periodic().Plan(chain));
        var gpt = TransformerPreset.Find("gpt-175b")!;
        var act = new ActivationSetup(gpt.Sequence, 1, gpt.TensorParallel, SequenceParallel: true, Dropout: gpt.Dropout);
        var recompute = new[] { Recompute.None, Recompute.Selective, Recompute.Full }
            .Select(r => new RecomputePoint(TrainingMemory.Name(r), ActivationMemory.PerLayerBytes(gpt.Shape, act, r),
                ComputeCost.RecomputeOverhead(gpt.Shape, new TrainingSetup(act, gpt.PipelineParallel, Recompute: r))))
            .ToList();
        return new ConceptResponse(scaling, f / (f + b), sqrt.Time / chain.BaselineTime - 1, new Periodic().SegmentsFor(chain.Length), gpt.Name, recompute);
    }

    /// <summary>The settings of <c>remat memory</c> the calculator sends, by name; flags take true or false.</summary>
    private static readonly string[] MemoryValues =
        ["preset", "layers", "hidden", "heads", "ffn", "vocab", "kv-heads", "seq", "micro-batch", "micro-batches", "tp", "pp", "interleave",
         "dp", "zero", "recompute", "recompute-layers", "dropout", "activation-bytes", "gpu-memory", "gpu", "attention"];

    private static readonly string[] MemoryFlags = ["gated", "sp", "flash"];

    /// <summary>
    /// The calculator's answer: <c>remat memory --json --recommend</c> run with the settings of
    /// <paramref name="query"/>, so the page and the command print the same numbers by construction.
    /// </summary>
    public static string Memory(IEnumerable<KeyValuePair<string, string>> query)
    {
        var args = new List<string> { "memory", "--json", "--recommend" };
        foreach (var (key, value) in query)
        {
            if (MemoryFlags.Contains(key))
            {
                if (value is "true" or "on" or "1")
                    args.Add("--" + key);
                else if (value is not ("false" or "off" or "0" or ""))
                    throw new UsageException($"{key} is '{value}'; it is true or false.");
            }
            else if (MemoryValues.Contains(key))
            {
                if (value.Length > 0)
                    args.AddRange(["--" + key, value]);
            }
            else
                throw new UsageException($"unknown setting '{key}'; the settings are {string.Join(", ", MemoryValues.Concat(MemoryFlags))}.");
        }
        using var output = new StringWriter();
        using var error = new StringWriter();
        if (Cli.Run([.. args], output, error) != 0)
            throw new UsageException(error.ToString().Trim().Replace("remat: ", "", StringComparison.Ordinal));
        return output.ToString();
    }
}
