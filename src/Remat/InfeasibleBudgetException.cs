namespace Remat;

/// <summary>A memory budget below the smallest one a planner can meet; it carries that smallest budget.</summary>
public sealed class InfeasibleBudgetException(string strategy, long budgetBytes, long minimumBytes)
    : RematException($"{strategy}: no schedule fits in {Size.Format(budgetBytes)} ({budgetBytes} bytes); " +
                $"the smallest budget that works is {Size.Format(minimumBytes)} ({minimumBytes} bytes).")
{
    /// <summary>The budget that was asked for.</summary>
    public long BudgetBytes { get; } = budgetBytes;

    /// <summary>The smallest budget the planner can meet.</summary>
    public long MinimumBytes { get; } = minimumBytes;
}
