using Remat.Planners;

namespace Remat;

/// <summary>Planning in one call: a chain or a graph and the options in, a plan checked by the simulator out.</summary>
public static class Planner
{
    /// <summary>
    /// Plans <paramref name="chain"/> with the strategy and budget of <paramref name="options"/> (optimal when none is
    /// named) and replays the schedule in the simulator. A plan over the budget throws an
    /// <see cref="InfeasibleBudgetException"/> that names the smallest budget that works; bad options throw a
    /// <see cref="RematException"/> that names the option.
    /// </summary>
    public static Plan Plan(Chain chain, PlanOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(chain);
        options ??= new PlanOptions();
        var strategy = Strategies.Get(options.Strategy);
        long? budget = Budget(chain, options);
        var trace = Simulator.Run(chain, strategy.Create(chain, options, budget).Plan(chain));
        if (budget is { } b && trace.PeakBytes > b)
            throw OverBudget(chain, strategy.Name, trace.PeakBytes, b);
        return new Plan(strategy.Name, Simulator.GraphOf(chain), chain, trace, budget);
    }

    /// <summary>
    /// Plans <paramref name="graph"/> as <see cref="Plan(Chain, PlanOptions?)"/> plans a chain. A graph that is a chain is
    /// planned as its chain, by the chain's strategies; another is planned by a strategy that plans graphs (see
    /// <see cref="Strategies"/>), and any other strategy is refused with a <see cref="StrategyRefusedException"/> that names
    /// those that do. <paramref name="cancellation"/> stops a solver; it throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public static Plan Plan(Graph graph, PlanOptions? options = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(graph);
        options ??= new PlanOptions();
        if (graph.IsChain)
            return Plan(graph.ToChain(), options);
        var strategy = Strategies.Get(options.Strategy);
        if (strategy.PlanGraph is not { } planGraph)
        {
            string[] planning = [.. Strategies.All.Where(s => s.PlanGraph is not null).Select(s => s.Name)];
            throw new StrategyRefusedException(strategy.Name, planning,
                $"{strategy.Name} plans chains, and this graph is not one; the strategies that plan it are {string.Join(", ", planning)}" +
                (strategy.Name == "optimal" ? " (optimal too, with Remat.CpSat's solver: call Remat.CpSat.GraphPlanner.Register() once)." : "."));
        }
        long? budget = Budget(() => GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes, options);
        var solution = planGraph(graph, options, budget, cancellation);
        var trace = GraphSimulator.Run(graph, solution.Schedule);
        if (budget is { } b && trace.PeakBytes > b)
            throw new InfeasibleBudgetException(b, trace.PeakBytes,
                $"{strategy.Name} peaks at {ByteSize.Format(trace.PeakBytes)} ({trace.PeakBytes} bytes), over the budget of {ByteSize.Format(b)} ({b} bytes). " +
                "Raise the budget, or plan with optimal, which finds the fastest schedule within it.");
        return new Plan(strategy.Name, graph, null, trace, budget) { Gap = solution.Gap, Remark = solution.Remark };
    }

    /// <summary>The budget in bytes that the options give, if any.</summary>
    public static long? Budget(Chain chain, PlanOptions options) =>
        Budget(() => Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes, options);

    private static long? Budget(Func<long> storeAllPeak, PlanOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.BudgetBytes is not null && options.BudgetFraction is not null)
            throw new RematException("give the budget in bytes or as a fraction of store-all's peak, not both.");
        if (options.BudgetBytes is { } bytes)
            return bytes > 0 ? bytes : throw new RematException($"the budget is {bytes} bytes; it must be positive.");
        if (options.BudgetFraction is not { } fraction)
            return null;
        if (!(fraction > 0 && fraction <= 1))
            throw new RematException($"the budget fraction is {fraction}; it must be in (0, 1], a share of store-all's peak.");
        return (long)(fraction * storeAllPeak());
    }

    private static InfeasibleBudgetException OverBudget(Chain chain, string strategy, long peak, long budget)
    {
        string message = $"{strategy} peaks at {ByteSize.Format(peak)} ({peak} bytes), over the budget of {ByteSize.Format(budget)} ({budget} bytes).";
        if (chain.Length > Optimal.MaxStages)
            return new(budget, peak, message + " Raise the budget, or give revolve fewer snapshots.");
        long min = Optimal.MinimumBudget(chain);
        return budget >= min
            ? new(budget, min, message + $" The optimal strategy fits this budget (it works down to {ByteSize.Format(min)}).")
            : new(budget, min, message + $" No schedule of Remat fits: the smallest budget that works is {ByteSize.Format(min)} ({min} bytes).");
    }
}
