namespace Remat;

/// <summary>
/// A planning strategy in the registry (<see cref="Strategies"/>): its name, what it does, whether it plans to a
/// budget, and how it makes its planner for a chain, the options and the budget in bytes (null when none was given).
/// </summary>
public sealed record Strategy(string Name, string Description, bool TakesBudget, Func<Chain, PlanOptions, long?, IPlanner> Create);
