using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Google.OrTools.Sat;
using Remat.Planners;

namespace Remat.CpSat;

/// <summary>
/// The fastest schedule of a <see cref="Graph"/> within a byte budget, found by Google OR-Tools' CP-SAT solver. The
/// model is Checkmate's staged formulation (Jain et al., "Checkmate", MLSys 2020, section 4: stage t first computes
/// node t, recomputations in the same stage run in topological order, and what is kept between stages is a
/// variable), extended to the chain model's operations: a recording and a plain forward per node and stage, the plain
/// forward freeing its single-reader inputs (Fn) or not (Fck), Free for outputs read by several nodes, records kept
/// until their backward, and the gradients of a fixed backward order N .. 1. A first solution (the chain program's plan
/// across the graph's blocks, or a segmentation) is improved by two local models in turn, the same model with the
/// recomputations near each stage's node only (within two nodes, then three), whose plan then starts the whole model.
/// docs/planners.md states the model and where it is exact.
/// </summary>
/// <param name="budgetBytes">The memory budget of the whole step, x0 included.</param>
/// <param name="timeLimit">How long the whole plan may take (the solver overruns its share by a little on large models); the best plan found and its gap are returned.</param>
public sealed class GraphPlanner(long budgetBytes, TimeSpan timeLimit)
{
    private const int MinWorkers = 8;

    /// <summary>
    /// The most variables a model may have. The whole model of the 495-node ResNet has 2.3 million; CP-SAT took 39 s
    /// and 8.4 GB to load it with no time to solve (docs/benchmarks.md). At a million (the whole model of about 330
    /// nodes, the local model of about 550) it takes some 4 GB.
    /// </summary>
    private const int MaxVariables = 1_000_000;

    /// <summary>
    /// The local models, in turn, each with the share of the time limit by which it ends (sooner once it proves its
    /// plan optimal). A local model lets the stage of node k (its first forward, or its backward) run only the nodes
    /// k - w .. k of its window w and their inputs: a model small enough to solve well, whose plan starts the next
    /// one, and the last one's the whole model (docs/planners.md). On the 60-node U-Net at half of store-all's peak, in
    /// 60 s: window 1 alone found 9.9% over store-all's time; window 2 alone 8.5% in about half the runs and 9.6-9.9%
    /// in the others; window 3 from the first solution nothing better; window 2 then window 3 8.4-8.5% in 7 runs of 8,
    /// window 3 taking window 2's 9.6% to 8.5% each time (docs/benchmarks.md).
    /// </summary>
    private static readonly (int Window, double Until)[] LocalPasses = [(2, 0.5), (3, 0.75)];

    /// <summary>A plan: the schedule, its simulated trace, and what the solver proved.</summary>
    /// <param name="Schedule">The schedule.</param>
    /// <param name="Trace">The graph simulator's replay of it.</param>
    /// <param name="Optimal">True when the solver proved that no schedule of its model is faster.</param>
    /// <param name="Gap">The proven relative gap between the schedule's time and the best possible one: 0 when optimal, NaN when the solver proved nothing (in time, or at all: <see cref="Result.TooLarge"/>) and the first solution or a local model's plan stands.</param>
    public sealed record Result(Schedule Schedule, Trace Trace, bool Optimal, double Gap)
    {
        /// <summary>
        /// True when the solver's model of the graph passes a million variables (the whole model of about 330 nodes)
        /// and was not built: the plan is the first solution or a local model's, and more time does not help.
        /// </summary>
        public bool TooLarge { get; init; }
    }

    /// <summary>How long a plan may take when <see cref="PlanOptions.TimeLimit"/> is not given.</summary>
    public static readonly TimeSpan DefaultTimeLimit = TimeSpan.FromSeconds(60);

    /// <summary>The remark of a plan whose graph's model passes a million variables (<see cref="Result.TooLarge"/>).</summary>
    public const string TooLargeRemark =
        "the solver's model of this graph passes a million variables, so nothing is proven; a graph of fewer nodes, such as whole blocks, gets it";

    /// <summary>
    /// Gives the registry's optimal strategy (<see cref="Strategies"/>) this solver for graphs that are not chains, within
    /// <see cref="PlanOptions.TimeLimit"/>, so that <see cref="Planner.Plan(Graph, PlanOptions?, CancellationToken)"/>
    /// plans them; chains stay the dynamic program's. Calling it again changes nothing.
    /// </summary>
    public static void Register() => Strategies.Register(Strategies.Get("optimal") with { PlanGraph = Solve });

    private static Remat.Solution Solve(Graph graph, PlanOptions options, long? budget, CancellationToken cancellation)
    {
        if (budget is not { } b)
            throw new RematException("optimal plans a graph to a memory budget, and none was given; store-all peaks at " +
                                     $"{ByteSize.Format(GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes)}.");
        var limit = options.TimeLimit ?? DefaultTimeLimit;
        if (!(limit > TimeSpan.Zero))
            throw new RematException($"PlanOptions.TimeLimit is {limit}; give the solver a positive time.");
        var result = new GraphPlanner(b, limit).Plan(graph, cancellation);
        return new Remat.Solution(result.Schedule, double.IsNaN(result.Gap) ? null : result.Gap,
            result.TooLarge ? TooLargeRemark
            : double.IsNaN(result.Gap) ? FormattableString.Invariant($"the solver proved nothing in {limit.TotalSeconds:0.#} s; give it more time")
            : null);
    }

    /// <summary>
    /// Plans <paramref name="graph"/>. Throws <see cref="InfeasibleBudgetException"/> with the least peak the solver
    /// finds when it proves that no schedule fits, <see cref="PlanningLimitException"/> when the time ran out before
    /// any schedule was found, and <see cref="OperationCanceledException"/> soon after <paramref name="cancellation"/>
    /// is cancelled (the solver stops at once; a block plan being made is finished first).
    /// </summary>
    public Result Plan(Graph graph, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return OnThreadOfItsOwn(() => PlanHere(graph, cancellation));
    }

    private Result PlanHere(Graph graph, CancellationToken cancellation)
    {
        var watch = Stopwatch.StartNew(); // the limit covers the whole plan: first solution, building the models and solving
        TimeSpan Left(TimeSpan limit) => limit > watch.Elapsed ? limit - watch.Elapsed : TimeSpan.Zero;
        var storeAll = new Schedule("cpsat", graph.StoreAll().Ops);
        var storeAllTrace = GraphSimulator.Run(graph, storeAll);
        if (storeAllTrace.PeakBytes <= budgetBytes) // no schedule is faster than one forward and one backward per node
            return new Result(storeAll, storeAllTrace, true, 0);
        // The schedule to start from, with its trace: simulated once, compared with the local plan and the solver's.
        var first = FirstSolution(graph);
        if (!ChainProgramPlans(graph)) // else the first solution is already the chain program's
        {
            foreach (var (window, until) in LocalPasses)
            {
                var local = LocalSolution(graph, window, first?.Schedule, () => Left(timeLimit * until), cancellation);
                if (local is not null && (first is null || local.Time < first.Time))
                    first = local;
            }
        }
        var (status, found, tooLarge) = Solve(afford => Hinted(StagedModel.Build(graph, budgetBytes, null, afford), first?.Schedule), () => Left(timeLimit), cancellation);
        if (status == CpSolverStatus.Infeasible)
            throw Infeasible(graph, () => Left(timeLimit), cancellation);
        if (found is null)
        {
            if (first is not null) // the solver proved nothing in time: the first solution stands, with no proven gap
                return new Result(first.Schedule, first, false, double.NaN) { TooLarge = tooLarge };
            long least = LeastPeakStart(graph).PeakBytes; // above the budget, or a first solution would have fitted
            string why = tooLarge ? FormattableString.Invariant($" (its model of this graph passes {MaxVariables:N0} variables)") : "";
            throw new PlanningLimitException(
                $"the solver found no schedule within {timeLimit.TotalSeconds:0.#} s{why} in {ByteSize.Format(budgetBytes)}; {ByteSize.Format(least)} " +
                $"({least} bytes), the least peak of the plans made without it, plans at once." +
                (tooLarge ? "" : " For less, give the solver more time (GraphPlanner's timeLimit)."));
        }
        var schedule = found.Schedule();
        var trace = GraphSimulator.Run(graph, schedule);
        if (first is not null && first.Time < trace.Time)
            (schedule, trace) = (first.Schedule, first); // the bound holds for it too: the gap below is an upper bound of its own
        if (trace.PeakBytes > budgetBytes)
            throw new InvalidOperationException($"the solver's schedule peaks at {trace.PeakBytes} bytes, over the budget of {budgetBytes}: a bug in the model.");
        double bound = found.Solver.BestObjectiveBound, objective = found.Solver.ObjectiveValue;
        bool optimal = status == CpSolverStatus.Optimal;
        return new Result(schedule, trace, optimal, optimal || objective <= 0 ? 0 : Math.Max(0, (objective - bound) / objective));
    }

    /// <summary>
    /// A valid schedule within the budget (which store-all does not fit) to start from, simulated: the chain program's
    /// plan for a chain of up to <see cref="GraphBlocks.MaxStages"/> stages, else the faster of the chain program's best
    /// plan across the graph's blocks (<see cref="GraphBlocks"/>, a longer chain in blocks of several stages) and the
    /// fastest segmentation (<see cref="GraphSegments"/>); null when none fits.
    /// </summary>
    private Trace? FirstSolution(Graph graph)
    {
        Schedule?[] starts = ChainProgramPlans(graph)
            ? [budgetBytes >= Optimal.MinimumBudget(graph.ToChain()) ? new Optimal(budgetBytes).Plan(graph.ToChain()) : null]
            : [GraphBlocks.Fastest(graph, budgetBytes), GraphSegments.Fastest(graph, budgetBytes)];
        return starts.OfType<Schedule>().Select(s => GraphSimulator.Run(graph, new Schedule("cpsat", s.Ops))).MinBy(t => t.Time);
    }

    /// <summary>
    /// Whether the chain program plans <paramref name="graph"/> itself: a chain short enough for it to plan in about a
    /// second. On the 1,000-stage chain at half of store-all's peak it took 11 s for a plan 15.3% over store-all's time,
    /// against 13.2% for its plan across blocks of four stages.
    /// </summary>
    private static bool ChainProgramPlans(Graph graph) => graph.IsChain && graph.Count <= GraphBlocks.MaxStages;

    /// <summary>
    /// The plan of the local model with <paramref name="window"/> (<see cref="StagedModel"/>), hinted with
    /// <paramref name="hint"/>: within the time <paramref name="limit"/> gives once the model is built, or sooner where
    /// the solver proves it optimal for that model; null when it finds none.
    /// </summary>
    private Trace? LocalSolution(Graph graph, int window, Schedule? hint, Func<TimeSpan> limit, CancellationToken cancellation)
    {
        var (_, found, _) = Solve(afford => Hinted(StagedModel.Build(graph, budgetBytes, window, afford), hint), limit, cancellation);
        if (found is null)
            return null;
        var trace = GraphSimulator.Run(graph, found.Schedule());
        return trace.PeakBytes <= budgetBytes ? trace
            : throw new InvalidOperationException($"the local model's schedule peaks at {trace.PeakBytes} bytes, over the budget of {budgetBytes}: a bug in the model.");
    }

    /// <summary>
    /// The least peak of any schedule of the model, found by the solver within <paramref name="timeLimit"/>, started
    /// from the least-peak plan made without it (block plans and segmentations): proven least when the solver finishes
    /// in time, else the least found. Throws <see cref="OperationCanceledException"/> soon after <paramref name="cancellation"/>
    /// is cancelled.
    /// </summary>
    public static long MinimumBudget(Graph graph, TimeSpan timeLimit, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return OnThreadOfItsOwn(() => LeastPeak(graph, () => timeLimit, cancellation)).Peak;
    }

    /// <summary>
    /// The least peak found within the time <paramref name="left"/> gives, whether the solver proved it least, and the
    /// least peak of the plans made without the solver, where it started (a budget that plans at once).
    /// </summary>
    private static (long Peak, bool Proven, long AtOnce) LeastPeak(Graph graph, Func<TimeSpan> left, CancellationToken cancellation)
    {
        var start = LeastPeakStart(graph);
        var (status, found, _) = Solve(afford => Hinted(StagedModel.Build(graph, budgetBytes: null, null, afford), start.Schedule), left, cancellation);
        if (found is null)
            return (start.PeakBytes, false, start.PeakBytes);
        long peak = GraphSimulator.Run(graph, found.Schedule()).PeakBytes;
        return (Math.Min(peak, start.PeakBytes), status == CpSolverStatus.Optimal, start.PeakBytes);
    }

    /// <summary>The least-peak plan made without the solver: of the block plans (<see cref="GraphBlocks.LeastPeak"/>) and every segmentation.</summary>
    private static Trace LeastPeakStart(Graph graph) =>
        Enumerable.Range(1, graph.Count).Select(n => GraphSimulator.Run(graph, GraphSegments.Plan(graph, n)))
            .Append(GraphBlocks.LeastPeak(graph)).MinBy(t => t.PeakBytes)!;

    /// <summary>
    /// The error for a budget the solver proved too small: the least peak found in the time left (the smallest budget
    /// that works, when the solver proved it), and the budget that plans at once, from the plans made without the solver.
    /// </summary>
    private InfeasibleBudgetException Infeasible(Graph graph, Func<TimeSpan> left, CancellationToken cancellation)
    {
        static string Size(long bytes) => $"{ByteSize.Format(bytes)} ({bytes} bytes)";
        var (least, proven, atOnce) = LeastPeak(graph, left, cancellation);
        string found = proven ? $"the smallest budget that works is {Size(least)}" : $"the least peak found in the time left is {Size(least)}";
        string plans = atOnce > least ? $"; {Size(atOnce)}, the least peak of the plans made without the solver, plans at once" : ", which plans at once";
        return new InfeasibleBudgetException(budgetBytes, least,
            $"cpsat: no schedule fits in {Size(budgetBytes)}, as the solver proved; {found}{plans}." +
            (proven || atOnce == least ? "" : " For a budget between the two, give the solver more time (GraphPlanner's timeLimit)."));
    }

    /// <summary>The model, hinted with <paramref name="hint"/> where there is one.</summary>
    private static StagedModel? Hinted(StagedModel? model, Schedule? hint)
    {
        if (hint is not null)
            model?.Hint(hint);
        return model;
    }

    /// <summary>
    /// Builds a model and solves it within the time <paramref name="left"/> gives once it is built, less a
    /// <see cref="Margin"/> for what the solve takes beyond its limit. So the build stops, and the solver is not called,
    /// once that would leave the solver no time, and a model stops at <see cref="MaxVariables"/> (<c>TooLarge</c>), or is
    /// not begun where it would have more. The solution, where the solver found one,
    /// comes with the model and the solver. A model the solver calls invalid is a bug in it, and throws.
    /// </summary>
    private static (CpSolverStatus Status, Solution? Found, bool TooLarge) Solve(Func<Func<long, bool>, StagedModel?> build, Func<TimeSpan> left,
        CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        var watch = Stopwatch.StartNew();
        var start = left();
        bool tooLarge = false;
        var model = build(variables =>
        {
            tooLarge = variables > MaxVariables; // before building, past about 577 nodes (StagedModel.LeastVariables)
            return !tooLarge && !cancellation.IsCancellationRequested && watch.Elapsed + Margin(watch.Elapsed) < start;
        });
        cancellation.ThrowIfCancellationRequested();
        var timeLimit = left() - Margin(watch.Elapsed);
        if (model is null || timeLimit <= TimeSpan.Zero)
            return (CpSolverStatus.Unknown, null, tooLarge);
        // At least eight workers, even on two cores: below eight, CP-SAT's portfolio leaves out the workers that raise
        // the lower bound and most neighbourhood searches (docs/benchmarks.md, "Graphs: CP-SAT"). CP-SAT's own Ctrl-C
        // handler is off: in a .NET process it aborted the process ("std::bad_function_call"), and the host's handler
        // (the CLI's, which cancels) is the one that should see it.
        var solver = new CpSolver
        {
            StringParameters = FormattableString.Invariant(
                $"max_time_in_seconds:{timeLimit.TotalSeconds:0.###} num_workers:{Math.Max(MinWorkers, Environment.ProcessorCount)} random_seed:1 catch_sigint_signal:false"),
        };
        CpSolverStatus status;
        using (cancellation.Register(solver.StopSearch))
            status = solver.Solve(model.Model);
        cancellation.ThrowIfCancellationRequested();
        if (status == CpSolverStatus.ModelInvalid)
            throw new InvalidOperationException($"CP-SAT calls the model invalid ({model.Model.Validate()}): a bug in the model.");
        return (status, status is CpSolverStatus.Optimal or CpSolverStatus.Feasible ? new Solution(model, solver) : null, false);
    }

    /// <summary>
    /// How far a solve of a model built in <paramref name="build"/> passes its limit: twice the build, for copying the
    /// model to the solver and back, and presolve's seldom reading of the clock, up to a second (the whole model of the
    /// 152-node ResNet: built in 2.0 s, 1.8 s over the solver's limit and 0.8 s of copying; the 60-node U-Net's plans
    /// ended 0.2 s over without the second; docs/benchmarks.md, "Graphs: CP-SAT"). The second shrinks with the build,
    /// to four times it, so that a small graph's model is still solved within a limit of a second.
    /// </summary>
    private static TimeSpan Margin(TimeSpan build) => 2 * build + TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, 4 * build.Ticks));

    /// <summary>A solution of the model: the model and the solver that solved it.</summary>
    private sealed record Solution(StagedModel Model, CpSolver Solver)
    {
        public Schedule Schedule() => Model.Schedule(Solver, "cpsat");
    }

    /// <summary>
    /// Runs the planning on a thread of its own, every solve of it on the same one. glibc gives each thread its own
    /// heap (arena), and the solver leaves large free chunks in the heap of the thread that calls it. On a training
    /// thread, libtorch's tensors were then served from those chunks instead of mappings of their own: the process's
    /// memory no longer followed its tensors, and the measured peaks moved (docs/benchmarks.md, the graph models).
    /// With a thread per solve, the second solve of a plan moved the measured peaks of other strategies again.
    /// </summary>
    private static T OnThreadOfItsOwn<T>(Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        });
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }
}
