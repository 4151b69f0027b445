namespace Remat.Planners;

/// <summary>
/// The choice, stage by stage, between a stage's full record and its partial one (docs/model.md, "Partial records"),
/// made with the schedule: for a set of stages recorded partially the chain is an ordinary chain (their records
/// smaller, their backwards longer), which a planner plans optimally; the set is searched, from none and from all,
/// by changing one stage at a time while the plan gets faster within the budget (a local search: each set is
/// planned exactly, the sets are not all tried).
/// </summary>
internal static class PartialRecordChoice
{
    /// <summary>Passes over the stages at most: each tries every stage's other record once.</summary>
    private const int MaxPasses = 4;

    /// <summary>
    /// The fastest schedule found within <paramref name="budget"/>, made by <paramref name="plan"/> for each set of
    /// stages recorded partially, named <paramref name="name"/>; refuses with the least budget of none and all.
    /// </summary>
    public static Schedule Plan(Chain chain, long budget, Func<Chain, Schedule> plan, string name)
    {
        int[] choosable = [.. Enumerable.Range(1, chain.Length).Where(k => chain[k].Partial is not null)];
        (Trace Trace, SortedSet<int> Set)? best = null;
        void Consider(SortedSet<int> set)
        {
            var runs = chain.WithPartialRecords(set);
            Trace trace;
            try
            {
                trace = Simulator.Run(runs, plan(runs));
            }
            catch (InfeasibleBudgetException)
            {
                return;
            }
            if (trace.PeakBytes <= budget && (best is null || trace.Time < best.Value.Trace.Time - 1e-9 * trace.Time))
                best = (trace, set);
        }
        Consider([]);
        Consider([.. choosable]);
        for (int pass = 0; pass < MaxPasses && best is not null; pass++)
        {
            var before = best.Value.Set;
            foreach (int k in choosable)
            {
                var set = new SortedSet<int>(best.Value.Set);
                if (!set.Remove(k))
                    set.Add(k);
                Consider(set);
            }
            if (ReferenceEquals(before, best.Value.Set))
                break;
        }
        if (best is not { } found)
            throw new InfeasibleBudgetException(name, budget, MinimumBudget(chain, Optimal.MinimumBudget));
        return new Schedule(name, found.Trace.Schedule.Ops, found.Set);
    }

    /// <summary>The least of <paramref name="minimum"/> over the chain with no stage and with every stage recorded partially.</summary>
    public static long MinimumBudget(Chain chain, Func<Chain, long> minimum) =>
        Math.Min(minimum(chain.WithPartialRecords([])), minimum(chain.WithPartialRecords([.. Enumerable.Range(1, chain.Length).Where(k => chain[k].Partial is not null)])));
}
