using System.CommandLine;
using Remat.Planners;

namespace Remat.Cli;

/// <summary>The options that tune a strategy, turned into the core's <see cref="PlanOptions"/>.</summary>
internal sealed class StrategyOptions
{
    public Option<long?> Budget { get; } = Options.Size("--budget", "The memory budget, e.g. 512MiB or 2GB.");

    public Option<int?> Segments { get; } = Options.Count("--segments", "periodic: the number of segments (default round(sqrt L)).", 1);

    public Option<int?> Snapshots { get; } =
        Options.Count("--snapshots", "revolve: snapshots, x0's included (default: the most that fit --budget, else round(sqrt L)).", 1);

    public Option<int?> Slots { get; } = Options.Count("--slots", $"optimal: memory slots of the dynamic program (default {Optimal.DefaultSlots}).", 1);

    public IEnumerable<Option> All => [Budget, Segments, Snapshots, Slots];

    /// <summary>The plan options for <paramref name="strategy"/> at <paramref name="budget"/>, with the other flags.</summary>
    public PlanOptions For(string strategy, ParseResult parse, long? budget) => new()
    {
        Strategy = strategy,
        BudgetBytes = budget,
        Segments = parse.GetValue(Segments),
        Snapshots = parse.GetValue(Snapshots),
        Slots = parse.GetValue(Slots),
    };
}
