namespace Remat;

/// <summary>
/// A planning strategy in the registry (<see cref="Strategies"/>): its name, what it does, whether it plans to a
/// budget, how it makes its planner for a chain from the options and the budget in bytes (null when none was given),
/// and, for a strategy that also plans graphs that are not chains, how it plans one (null when it does not).
/// </summary>
public sealed record Strategy(string Name, string Description, bool TakesBudget, Func<Chain, PlanOptions, long?, IPlanner> Create,
    Func<Graph, PlanOptions, long?, CancellationToken, Solution>? PlanGraph = null);
