namespace Remat;

/// <summary>The result of <see cref="Planner"/>: the schedule, and its trace under the simulator.</summary>
public sealed class Plan
{
    internal Plan(string strategy, Graph graph, Chain? chain, Trace trace, long? budgetBytes)
    {
        Strategy = strategy;
        Graph = graph;
        Chain = chain;
        Trace = trace;
        BudgetBytes = budgetBytes;
    }

    /// <summary>The strategy that made it.</summary>
    public string Strategy { get; }

    /// <summary>The model it was planned for, as a graph (a chain's is the graph whose node k reads x_{k-1}).</summary>
    public Graph Graph { get; }

    /// <summary>The chain it was planned for; null for a graph that is not a chain.</summary>
    public Chain? Chain { get; }

    /// <summary>
    /// The proven relative gap between the plan's time and the fastest the model allows, where the strategy proves one
    /// (0: proven optimal); null otherwise (every chain strategy: optimal is exact for its memory slots, docs/planners.md).
    /// </summary>
    public double? Gap { get; init; }

    /// <summary>What the strategy says of the plan (why nothing is proven, say), or null.</summary>
    public string? Remark { get; init; }

    /// <summary>The schedule: what the simulator replays and the TorchSharp executor runs.</summary>
    public Schedule Schedule => Trace.Schedule;

    /// <summary>The simulator's trace of the schedule: memory and time after every operation.</summary>
    public Trace Trace { get; }

    /// <summary>The budget it was planned for, in bytes, when one was given.</summary>
    public long? BudgetBytes { get; }

    /// <summary>The planned peak memory, in bytes.</summary>
    public long PeakBytes => Trace.PeakBytes;

    /// <summary>The planned time of a step, in the model's time unit.</summary>
    public double Time => Trace.Time;
}
