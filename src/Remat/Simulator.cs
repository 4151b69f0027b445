namespace Remat;

/// <summary>
/// Replays a schedule on a chain under the memory rules of the chain model and returns its <see cref="Trace"/>.
/// It is the single source of truth for peak memory and time: planners' own estimates never are.
/// </summary>
public static class Simulator
{
    /// <summary>
    /// Replays <paramref name="schedule"/>; throws <see cref="ScheduleException"/> with the index of the
    /// first operation that is invalid, and what it lacked.
    /// </summary>
    public static Trace Run(Chain chain, Schedule schedule) => Run(chain, schedule, complete: true);

    /// <summary>
    /// As <see cref="Run(Chain, Schedule)"/>; without <paramref name="complete"/>, a valid prefix of a schedule passes.
    /// A chain is the graph whose stage k reads x_{k-1}, and the graph simulator's rules are the chain's on it
    /// (docs/model.md), so the chain's graph is replayed.
    /// </summary>
    internal static Trace Run(Chain chain, Schedule schedule, bool complete)
    {
        ArgumentNullException.ThrowIfNull(chain);
        return GraphSimulator.Run(GraphOf(chain), schedule, complete);
    }

    /// <summary>The chain's graph, built once per chain.</summary>
    internal static Graph GraphOf(Chain chain) => AsGraph.GetValue(chain, Graph.FromChain);

    // Chains are immutable: each one's graph is built once, as planners replay many schedules on one chain.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Chain, Graph> AsGraph = [];
}
