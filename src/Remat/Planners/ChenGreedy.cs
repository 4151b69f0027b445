namespace Remat.Planners;

/// <summary>
/// Chen et al. 2016 ("Training Deep Nets with Sublinear Memory Cost"), Algorithm 3: walk the chain,
/// add each stage's saved memory to a running segment size, and close the segment with a checkpoint
/// where it exceeds a threshold B. The schedule then recomputes each segment once.
/// The budget search of the paper is a sweep of B over the thresholds at which the segmentation changes
/// (sampled on long chains, see <see cref="Thresholds"/>); each schedule is measured by the simulator, and the
/// fastest one within the budget is kept (the least peak when no budget is given).
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
        var seen = new HashSet<string>();
        (Schedule Schedule, Trace Trace)? best = null, leanest = null;
        foreach (long b in Thresholds(chain))
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

    /// <summary>
    /// The thresholds to try. The segmentation only changes where B crosses a sum of consecutive savedBytes, so
    /// for chains of up to 300 stages every such sum (and one byte below it) is a candidate; longer chains take a
    /// geometric grid from the largest stage to the whole chain. At most max(64, 5*10^6 / L) candidates are
    /// replayed (evenly sampled), which bounds the search to about 2*10^7 simulated operations.
    /// </summary>
    private static IEnumerable<long> Thresholds(Chain chain)
    {
        int L = chain.Length, cap = Math.Max(64, 5_000_000 / L);
        var candidates = new SortedSet<long> { long.MaxValue };
        long total = chain.Stages.Sum(st => st.SavedBytes), largest = chain.Stages.Max(st => st.SavedBytes);
        if (L <= 300)
        {
            for (int i = 1; i <= L; i++)
            {
                long sum = 0;
                for (int k = i; k <= L; k++)
                {
                    sum += chain[k].SavedBytes;
                    candidates.Add(sum - 1);
                    candidates.Add(sum);
                }
            }
        }
        else
        {
            for (int g = 0; g < cap; g++)
                candidates.Add((long)(Math.Max(1, largest) * Math.Pow((double)Math.Max(total, 1) / Math.Max(1, largest), (double)g / (cap - 1))));
        }
        var sorted = candidates.ToArray();
        return sorted.Length <= cap ? sorted : Enumerable.Range(0, cap).Select(i => sorted[(int)((long)i * (sorted.Length - 1) / (cap - 1))]);
    }
}
