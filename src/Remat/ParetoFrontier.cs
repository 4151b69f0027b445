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
    /// The fastest schedules of <see cref="Optimal"/> across budgets. A chain that is searched exactly is swept point
    /// by point (each next budget one byte below the last peak, so every point of the frontier is found). A longer
    /// one is read from one table of Remat's program of <paramref name="slots"/> slots over store-all's peak: every
    /// memory of the table where the time falls, with the schedules Optimal sets against the table (the family's least
    /// peak, store-all, periodic and revolve at every setting, and ChenGreedy at each budget of
    /// <paramref name="alsoAt"/>, the peaks of other planners). One table serves every point; a finer one, planned
    /// for one smaller budget, can be slightly faster at that budget.
    /// </summary>
    public static IReadOnlyList<FrontierPoint> Compute(Chain chain, int slots = 100, IEnumerable<long>? alsoAt = null)
    {
        long max = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;
        if (chain.Length > Optimal.ExactUpTo)
            return Pareto(Optimal.Sweep(chain, max, slots, alsoAt ?? []).Select(schedule =>
            {
                var trace = Simulator.Run(chain, schedule);
                return new FrontierPoint(trace.PeakBytes, trace.Time, new Schedule("optimal", schedule.Ops));
            }));
        long min = Optimal.MinimumBudget(chain);
        var points = new List<FrontierPoint>();
        for (long budget = max; budget >= min; budget = points[^1].PeakBytes - 1)
        {
            var trace = Simulator.Run(chain, new Optimal(budget, slots).Plan(chain));
            points.Add(new FrontierPoint(trace.PeakBytes, trace.Time, trace.Schedule));
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
