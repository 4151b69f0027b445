using Remat.Planners;

namespace Remat;

/// <summary>A point of the memory/time trade-off: a schedule with its simulated peak and time.</summary>
public sealed record FrontierPoint(long PeakBytes, double Time, Schedule Schedule);

/// <summary>
/// The Pareto frontier of (peak, time) for a chain: the fastest schedule at each budget, from the
/// smallest feasible budget to the store-all peak, with the points that another point beats removed.
/// </summary>
public static class ParetoFrontier
{
    /// <summary>
    /// Plans with <see cref="Optimal"/> across budgets. A chain that is searched exactly is swept point by
    /// point (each next budget one byte below the last peak, so every point of the frontier is found);
    /// a longer one at <paramref name="budgets"/> evenly spaced budgets and at <paramref name="alsoAt"/>
    /// (the peaks of other planners, so that they are placed against the frontier exactly).
    /// </summary>
    public static IReadOnlyList<FrontierPoint> Compute(Chain chain, int budgets = 32, int slots = Rotor.DefaultSlots,
        IEnumerable<long>? alsoAt = null)
    {
        long max = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;
        long min = Optimal.MinimumBudget(chain);
        var points = new List<FrontierPoint>();
        void Add(long budget)
        {
            var trace = Simulator.Run(chain, new Optimal(budget, slots).Plan(chain));
            points.Add(new FrontierPoint(trace.PeakBytes, trace.Time, trace.Schedule));
        }
        if (chain.Length <= Optimal.ExactUpTo)
        {
            for (long budget = max; budget >= min; budget = points[^1].PeakBytes - 1)
                Add(budget);
        }
        else
        {
            int n = Math.Max(2, budgets);
            for (int i = 0; i < n; i++)
                Add(min + (long)((double)(max - min) * i / (n - 1)));
            foreach (long budget in alsoAt ?? [])
                if (budget >= min)
                    Add(Math.Min(budget, max));
        }
        return Pareto(points);
    }

    /// <summary>The least frontier time at a peak of at most <paramref name="peakBytes"/>; null below the frontier.</summary>
    public static double? TimeAt(IReadOnlyList<FrontierPoint> frontier, long peakBytes) =>
        frontier.Where(p => p.PeakBytes <= peakBytes).Select(p => (double?)p.Time).Min();

    /// <summary>Keeps the points no other point beats, sorted by peak.</summary>
    private static List<FrontierPoint> Pareto(IEnumerable<FrontierPoint> points)
    {
        var result = new List<FrontierPoint>();
        foreach (var p in points.OrderBy(p => p.PeakBytes).ThenBy(p => p.Time))
            if (result.Count == 0 || p.Time < result[^1].Time)
                result.Add(p);
        return result;
    }
}
