namespace Remat;

/// <summary>A memory budget below the smallest one a planner can meet; it carries that smallest budget.</summary>
public sealed class InfeasibleBudgetException : RematException
{
    /// <summary>The budget of <paramref name="strategy"/> is below <paramref name="minimumBytes"/>, the least it meets.</summary>
    public InfeasibleBudgetException(string strategy, long budgetBytes, long minimumBytes)
        : this(budgetBytes, minimumBytes, $"{strategy}: no schedule fits in {ByteSize.Format(budgetBytes)} ({budgetBytes} bytes); " +
               $"the smallest budget that works is {ByteSize.Format(minimumBytes)} ({minimumBytes} bytes).")
    {
    }

    /// <summary>The same, with a message of the caller's that says what to change.</summary>
    internal InfeasibleBudgetException(long budgetBytes, long minimumBytes, string message) : base(message)
    {
        BudgetBytes = budgetBytes;
        MinimumBytes = minimumBytes;
    }

    /// <summary>The budget that was asked for.</summary>
    public long BudgetBytes { get; }

    /// <summary>The smallest budget that works: the planner's least peak, or Remat's least when the strategy's plan was over.</summary>
    public long MinimumBytes { get; }
}
