using Remat.Planners;

namespace Remat;

/// <summary>
/// The one registry of planning strategies by name, for chains and graphs. The CLI, the page, the TorchSharp runtime,
/// the tests and the benchmarks all choose planners through it (and <see cref="Planner.Plan(Chain, PlanOptions?)"/>,
/// <see cref="Planner.Plan(Graph, PlanOptions?, CancellationToken)"/>). Every strategy plans chains; storeall and
/// periodic plan any graph, and optimal plans graphs that are not chains once a solver is registered (Remat.CpSat's
/// <c>GraphPlanner.Register()</c>).
/// </summary>
public static class Strategies
{
    private static IReadOnlyList<Strategy> _all =
    [
        new("storeall", "keep every activation: the fastest step and the largest peak", false, (_, _, _) => new StoreAll(),
            (graph, _, _, _) => new Solution(graph.StoreAll())),
        new("periodic", "checkpoint_sequential: n segments, each but the last recomputed once", false,
            (_, o, _) => new Periodic(o.Segments),
            (graph, o, _, _) => new Solution(new Schedule("periodic", GraphSegments.Plan(graph, new Periodic(o.Segments).SegmentsFor(graph.Count)).Ops))),
        new("revolve", "Griewank and Walther's binomial checkpointing with s snapshots", false,
            (chain, o, budget) => new Revolve(o.Snapshots ?? MostSnapshotsThatFit(chain, budget))),
        new("chen", "Chen et al.'s sqrt(n) greedy segmentation, searched for the fastest plan within the budget", true,
            (_, _, budget) => new ChenGreedy(budget)),
        new("selective", "Megatron's selective recompute (every stage's partial record) and the fewest fully recomputed stages that fit", false,
            (_, _, budget) => new SelectiveRecompute(budget)),
        new("optimal", "the fastest schedule of the chain model within the budget, with each stage's choice of record", true,
            (chain, o, budget) => new Optimal(budget ?? throw NeedsBudget(chain), o.Slots ?? Optimal.DefaultSlots)),
    ];

    /// <summary>Every strategy, in the order reports list them.</summary>
    public static IReadOnlyList<Strategy> All => Volatile.Read(ref _all);

    /// <summary>The strategies' names.</summary>
    public static IReadOnlyList<string> Names => [.. All.Select(s => s.Name)];

    /// <summary>The strategy called <paramref name="name"/>; an unknown name throws a <see cref="RematException"/> listing them.</summary>
    public static Strategy Get(string name) =>
        All.FirstOrDefault(s => s.Name == name)
        ?? throw new RematException($"unknown strategy '{name}'; the strategies are {string.Join(", ", Names)}.");

    /// <summary>
    /// Adds <paramref name="strategy"/> to the registry, or puts it in the place of the strategy of the same name (as
    /// Remat.CpSat gives optimal its graph solver). Safe to call from several threads.
    /// </summary>
    public static void Register(Strategy strategy)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        IReadOnlyList<Strategy> before, after;
        do
        {
            before = All;
            int at = before.ToList().FindIndex(s => s.Name == strategy.Name);
            after = at < 0 ? [.. before, strategy] : [.. before.Select((s, i) => i == at ? strategy : s)];
        }
        while (!ReferenceEquals(Interlocked.CompareExchange(ref _all, after, before), before));
    }

    private static RematException NeedsBudget(Chain chain) =>
        new($"optimal plans to a memory budget, and none was given. For this chain any budget from " +
            $"{ByteSize.Format(Optimal.MinimumBudget(chain))} (the smallest that works) to " +
            $"{ByteSize.Format(Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes)} (store-all's peak) makes sense.");

    /// <summary>The most snapshots whose schedule fits the budget (fewest recomputations), else round(sqrt L).</summary>
    private static int MostSnapshotsThatFit(Chain chain, long? budget)
    {
        int guess = Math.Max(1, (int)Math.Round(Math.Sqrt(chain.Length)));
        if (budget is not { } b)
            return guess;
        bool Fits(int s) => Simulator.Run(chain, new Revolve(s).Plan(chain)).PeakBytes <= b;
        if (!Fits(1))
            return 1; // the caller reports the overrun, with the peak of the leanest Revolve
        int lo = 1, hi = chain.Length; // the peak grows with the snapshots: find the last s that fits
        while (lo < hi)
        {
            int mid = lo + (hi - lo + 1) / 2;
            if (Fits(mid)) lo = mid; else hi = mid - 1;
        }
        return lo;
    }
}
