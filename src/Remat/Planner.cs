using Remat.Planners;

namespace Remat;

/// <summary>Planning in one call: a chain and the options in, a plan checked by the simulator out.</summary>
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
        return new Plan(strategy.Name, chain, trace, budget);
    }

    /// <summary>The budget in bytes that the options give, if any.</summary>
    public static long? Budget(Chain chain, PlanOptions options)
    {
        if (options.BudgetBytes is not null && options.BudgetFraction is not null)
            throw new RematException("give the budget in bytes or as a fraction of store-all's peak, not both.");
        if (options.BudgetBytes is { } bytes)
            return bytes > 0 ? bytes : throw new RematException($"the budget is {bytes} bytes; it must be positive.");
        if (options.BudgetFraction is not { } fraction)
            return null;
        if (!(fraction > 0 && fraction <= 1))
            throw new RematException($"the budget fraction is {fraction}; it must be in (0, 1], a share of store-all's peak.");
        return (long)(fraction * Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes);
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
