namespace Remat;

/// <summary>
/// What one call of <see cref="Planner"/> asks for: a strategy by name (see <see cref="Strategies"/>), a memory
/// budget in bytes or as a fraction of store-all's peak, and the strategies' own settings. Every setting is optional;
/// a strategy ignores the ones that are not its own.
/// </summary>
public sealed record PlanOptions
{
    /// <summary>The strategy's name: storeall, periodic, revolve, chen, selective or optimal (the default); see <see cref="Strategies"/>.</summary>
    public string Strategy { get; init; } = "optimal";

    /// <summary>The memory budget in bytes: the peak of the chain model (input, activations, records, gradients).</summary>
    public long? BudgetBytes { get; init; }

    /// <summary>The memory budget as a fraction of store-all's peak, in (0, 1]; instead of <see cref="BudgetBytes"/>.</summary>
    public double? BudgetFraction { get; init; }

    /// <summary>periodic: the number of segments (default round(sqrt L)).</summary>
    public int? Segments { get; init; }

    /// <summary>revolve: the snapshots, x0's included (default: the most that fit the budget, else round(sqrt L)).</summary>
    public int? Snapshots { get; init; }

    /// <summary>optimal: the memory slots of the dynamic program (default <see cref="Planners.Optimal.DefaultSlots"/>).</summary>
    public int? Slots { get; init; }

    /// <summary>optimal on a graph that is not a chain: how long the solver may take, the whole plan included (default 60 s).</summary>
    public TimeSpan? TimeLimit { get; init; }
}
