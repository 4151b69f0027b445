namespace Remat.Planners;

/// <summary>
/// Chen et al. 2016 ("Training Deep Nets with Sublinear Memory Cost"), Algorithm 3: walk the chain,
/// add each stage's saved memory to a running segment size, and close the segment with a checkpoint
/// where it exceeds a threshold B. The schedule then recomputes each segment once.
/// The budget search of the paper is a sweep of B: every threshold at which the segmentation changes is
/// tried, each schedule is measured by the simulator, and the fastest one within the budget is kept
/// (the least peak when no budget is given).
/// </summary>
public sealed class ChenGreedy(long? budgetBytes = null) : IPlanner
{
    /// <inheritdoc />
    public string Name => "chen";

    /// <summary>The segment starts that Algorithm 3 gives for the threshold <paramref name="threshold"/>.</summary>
    internal static int[] Segmentation(Chain chain, long threshold)
    {
        var starts = new List<int> { 1 };
        long temp = 0;
        for (int k = 1; k < chain.Length; k++) // the last stage never needs a checkpoint after it
        {
            temp += chain[k].SavedBytes;
            if (temp > threshold)
            {
                starts.Add(k + 1); // m(k) = true: x_k is the checkpoint that starts the next segment
                temp = 0;
            }
        }
        return starts.ToArray();
    }

    /// <inheritdoc />
    public Schedule Plan(Chain chain)
    {
        // The segmentation only changes where B crosses a sum of consecutive savedBytes; trying B just below
        // each distinct run total covers every distinct segmentation that a single threshold can give.
        var thresholds = new SortedSet<long> { long.MaxValue };
        for (int i = 1; i <= chain.Length && thresholds.Count < 4096; i++)
        {
            long sum = 0;
            for (int k = i; k <= chain.Length; k++)
            {
                sum += chain[k].SavedBytes;
                thresholds.Add(sum - 1);
                thresholds.Add(sum);
            }
        }
        var seen = new HashSet<string>();
        (Schedule Schedule, Trace Trace)? best = null, leanest = null;
        foreach (long b in thresholds)
        {
            var starts = Segmentation(chain, b);
            if (!seen.Add(string.Join(',', starts)))
                continue;
            var schedule = Segments.Build(Name, chain.Length, starts);
            var trace = Simulator.Run(chain, schedule);
            if (leanest is null || trace.PeakBytes < leanest.Value.Trace.PeakBytes)
                leanest = (schedule, trace);
            if (budgetBytes is { } budget && trace.PeakBytes <= budget &&
                (best is null || trace.Time < best.Value.Trace.Time ||
                 (trace.Time == best.Value.Trace.Time && trace.PeakBytes < best.Value.Trace.PeakBytes)))
                best = (schedule, trace);
        }
        if (budgetBytes is null)
            return leanest!.Value.Schedule;
        return best?.Schedule ?? throw new InfeasibleBudgetException(Name, budgetBytes.Value, leanest!.Value.Trace.PeakBytes);
    }
}
