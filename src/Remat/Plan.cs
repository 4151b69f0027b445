namespace Remat;

/// <summary>The result of <see cref="Planner.Plan"/>: the schedule, and its trace under the simulator.</summary>
public sealed class Plan
{
    internal Plan(string strategy, Chain chain, Trace trace, long? budgetBytes)
    {
        Strategy = strategy;
        Chain = chain;
        Trace = trace;
        BudgetBytes = budgetBytes;
    }

    /// <summary>The strategy that made it.</summary>
    public string Strategy { get; }

    /// <summary>The chain it was planned for.</summary>
    public Chain Chain { get; }

    /// <summary>The schedule: what the simulator replays and the TorchSharp executor runs.</summary>
    public Schedule Schedule => Trace.Schedule;

    /// <summary>The simulator's trace of the schedule: memory and time after every operation.</summary>
    public Trace Trace { get; }

    /// <summary>The budget it was planned for, in bytes, when one was given.</summary>
    public long? BudgetBytes { get; }

    /// <summary>The planned peak memory, in bytes.</summary>
    public long PeakBytes => Trace.PeakBytes;

    /// <summary>The planned time of a step, in the chain's time unit.</summary>
    public double Time => Trace.Time;
}
