namespace Remat;

/// <summary>
/// What one call of <see cref="Planner.Plan"/> asks for: a strategy by name (see <see cref="Strategies"/>), a memory
/// budget in bytes or as a fraction of store-all's peak, and the strategies' own settings. Every setting is optional;
/// a strategy ignores the ones that are not its own.
/// </summary>
public sealed record PlanOptions
{
    /// <summary>The strategy's name: storeall, periodic, revolve, chen or optimal (the default).</summary>
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
}
