using static Remat.Planners.ExactFamily;

namespace Remat.Planners;

/// <summary>
/// Remat's program over the whole of <see cref="ExactFamily"/>, parts that consume their input included, computed top
/// down: only the intervals and memories the recursion reaches from the whole chain at one budget are evaluated, each
/// once. An interval that consumes its input adds a third index (the stage its backward stops at) and a second split
/// index to the checkpoint move, so this is O(L^5) candidates at worst per memory; <see cref="Optimal"/> uses it where
/// that work is small (<see cref="Fits(int, long)"/>) and the table (<see cref="ExactTable"/>) beyond.
/// </summary>
internal sealed class ExactSearch : IChooser
{
    /// <summary>The most work <see cref="Fits(int, long)"/> allows: L^5/120 candidates (the three split indices and the stage a part stops at) per memory.</summary>
    private const double MaxWork = 3e7;

    /// <summary>The memories the least-peak schedule's search is charged for in <see cref="Fits(int)"/>: in exact bytes, it reaches a few per interval.</summary>
    private const int LeastPeakMemories = 300;

    private readonly Sizes _sizes;
    private readonly int _length;
    private readonly Dictionary<(long, long), float> _time = [];
    private readonly Dictionary<long, long> _peak = [];

    /// <summary>The program for <paramref name="chain"/> in units of <paramref name="unit"/> bytes (1: exact bytes).</summary>
    public ExactSearch(Chain chain, long unit)
    {
        _sizes = new Sizes(chain, unit);
        _length = chain.Length;
    }

    /// <summary>
    /// Whether the search is cheap enough for a chain of <paramref name="length"/> stages at <paramref name="memories"/>
    /// memories: 20 stages at 1,000 slots, which took at most 0.23 s on the machine of docs/benchmarks.md (22 stages: 0.63 s).
    /// </summary>
    public static bool Fits(int length, long memories) => Math.Pow(length, 5) / 120 * Math.Min(memories, 1000) <= MaxWork;

    /// <summary>Whether the least peak and its schedule (<see cref="LeastPeakOf"/>) are cheap enough for a chain of <paramref name="length"/> stages.</summary>
    public static bool Fits(int length) => Fits(length, LeastPeakMemories);

    /// <summary>The least peak of any schedule of the family in exact bytes, and the fastest schedule within it.</summary>
    internal sealed record LeastPeakPlan(long PeakBytes, Schedule Schedule);

    // Chains are immutable, so a chain's least-peak plan is computed once (Optimal needs its peak and its schedule).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Chain, LeastPeakPlan> LeastPeaks = [];

    /// <summary>The family's least-peak plan for <paramref name="chain"/>, in exact bytes, computed on its first use.</summary>
    public static LeastPeakPlan LeastPeakOf(Chain chain) => LeastPeaks.GetValue(chain, c =>
    {
        var search = new ExactSearch(c, 1);
        long peak = search.LeastPeak;
        return new LeastPeakPlan(peak, ExactFamily.Emit("optimal", c.Length, search, peak));
    });

    private Part Whole => new(Holding.Plain, 1, 1, _length, true, 0);

    /// <summary>The least time of the whole chain within <paramref name="memory"/> units, x0 included; infinity if none fits.</summary>
    public float Time(long memory) => Time(Whole, memory);

    /// <summary>The least peak of any schedule of the family, in units.</summary>
    public long LeastPeak => Peak(Whole);

    /// <inheritdoc />
    public Candidate Choose(Holding holding, int s, int down, int t, bool top, long memory)
    {
        Candidate best = default;
        float bestTime = float.PositiveInfinity;
        foreach (var c in _sizes.Candidates(holding, s, down, t, top, consuming: true))
        {
            if (Bound(c) > bestTime)
                continue;
            float time = TimeOf(c, memory);
            if (time < bestTime)
                (bestTime, best) = (time, c);
        }
        return best;
    }

    /// <summary>A candidate's time at <paramref name="memory"/>, its parts summed in the order of the table's rows.</summary>
    private float TimeOf(in Candidate c, long memory)
    {
        if (c.Need > memory)
            return float.PositiveInfinity;
        float time = c.Cost;
        if (c.First is { } first)
            time += Time(first, memory - first.Shift);
        if (c.Second is { } second)
            time += Time(second, memory - second.Shift);
        return time;
    }

    private float Time(Part part, long memory)
    {
        if (memory < Peak(part))
            return float.PositiveInfinity;
        if (part.Top && part.S == _length + 1)
            return 0; // the loss, within its need (its peak)
        var key = (Key(part), memory);
        if (_time.TryGetValue(key, out float known))
            return known;
        float best = float.PositiveInfinity;
        foreach (var c in _sizes.Candidates(part.Holding, part.S, part.Down, part.T, part.Top, consuming: true))
            if (Bound(c) <= best) // no memory makes a candidate faster than its parts with all the memory they want
                best = Math.Min(best, TimeOf(c, memory));
        _time[key] = best;
        return best;
    }

    /// <summary>A part's interval and holding in one number.</summary>
    private static long Key(Part part) =>
        (((long)part.Holding * 2048 + part.S) * 2048 + part.Down) * 2048 * 2 + part.T * 2 + (part.Top ? 1 : 0);

    /// <summary>
    /// A lower bound on a candidate's time at any memory: each part runs every stage's forward at least once and the
    /// backward of the stages it owns, less a margin for float rounding.
    /// </summary>
    private float Bound(in Candidate c)
    {
        double time = c.Cost;
        if (c.First is { } first)
            time += _sizes.LeastTime(first);
        if (c.Second is { } second)
            time += _sizes.LeastTime(second);
        return (float)(time * (1 - 1e-6));
    }

    /// <summary>The least peak of a part: over its candidates, the largest of the candidate's need and each part's peak plus its shift.</summary>
    private long Peak(Part part)
    {
        if (part.Top && part.S == _length + 1)
            return _sizes.LossNeed(part.Holding);
        long key = Key(part);
        if (_peak.TryGetValue(key, out long known))
            return known;
        long best = long.MaxValue;
        foreach (var c in _sizes.Candidates(part.Holding, part.S, part.Down, part.T, part.Top, consuming: true))
        {
            long peak = c.Need;
            if (c.First is { } first)
                peak = Math.Max(peak, first.Shift + Peak(first));
            if (c.Second is { } second)
                peak = Math.Max(peak, second.Shift + Peak(second));
            best = Math.Min(best, peak);
        }
        _peak[key] = best;
        return best;
    }
}
