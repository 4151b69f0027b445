using System.CommandLine;
using Remat.Planners;

namespace Remat.Cli;

/// <summary>The options that choose and tune a planner, and the planner they make.</summary>
internal sealed class StrategyOptions
{
    public static readonly string[] Names = ["storeall", "periodic", "revolve", "chen", "optimal"];

    public Option<long?> Budget { get; } = Options.Size("--budget", "The memory budget, e.g. 512MiB or 2GB.");

    public Option<int?> Segments { get; } = Options.Count("--segments", "periodic: the number of segments (default round(sqrt L)).", 1);

    public Option<int?> Snapshots { get; } =
        Options.Count("--snapshots", "revolve: snapshots, x0's included (default: the most that fit --budget, else round(sqrt L)).", 1);

    public Option<int?> Slots { get; } = Options.Count("--slots", $"optimal: memory slots of the dynamic program (default {Rotor.DefaultSlots}).", 1);

    public IEnumerable<Option> All => [Budget, Segments, Snapshots, Slots];

    /// <summary>Whether the strategy plans to a budget (and so reports it in the plan JSON).</summary>
    public static bool TakesBudget(string strategy) => strategy is "chen" or "optimal";

    /// <summary>The planner <paramref name="strategy"/> for <paramref name="budget"/>, tuned by the other options.</summary>
    public IPlanner Create(string strategy, Chain chain, ParseResult parse, long? budget) =>
        Planner(strategy, budget, parse.GetValue(Segments),
            () => parse.GetValue(Snapshots) ?? DefaultSnapshots(chain, budget),
            () => throw NeedsBudget(chain),
            parse.GetValue(Slots) ?? Rotor.DefaultSlots);

    /// <summary>
    /// The planner called <paramref name="strategy"/>: the one mapping from strategy names to planners, shared by the
    /// commands and the viz API. The callers say how Revolve's snapshots are chosen when none are given, and what
    /// optimal plans to when there is no budget.
    /// </summary>
    public static IPlanner Planner(string strategy, long? budget, int? segments, Func<int> snapshots, Func<long> unbudgetedOptimal, int slots) =>
        strategy switch
        {
            "storeall" => new StoreAll(),
            "periodic" => new Periodic(segments),
            "revolve" => new Revolve(snapshots()),
            "chen" => new ChenGreedy(budget),
            "optimal" => new Optimal(budget ?? unbudgetedOptimal(), slots),
            _ => throw new UsageException($"unknown strategy '{strategy}'; the strategies are {string.Join(", ", Names)}."),
        };

    private static UsageException NeedsBudget(Chain chain) =>
        new($"optimal plans to a memory budget: give --budget. For this chain any budget from {Size.Format(Optimal.MinimumBudget(chain))} " +
            $"(the smallest that works) to {Size.Format(Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes)} (store-all's peak) makes sense.");

    /// <summary>The most snapshots whose schedule fits the budget (fewest recomputations), else round(sqrt L).</summary>
    private static int DefaultSnapshots(Chain chain, long? budget)
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
