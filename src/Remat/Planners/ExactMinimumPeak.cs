using static Remat.Planners.ExactFamily;

namespace Remat.Planners;

/// <summary>
/// The least peak of any schedule of <see cref="ExactFamily"/>, in exact bytes, and a schedule that reaches it: the
/// memory counterpart of <see cref="ExactTable"/>, O(L^3). Each interval's least peak is the least, over its
/// candidates, of the largest of the candidate's own need and each part's least peak plus its shift. As in the table,
/// only the plain holding is computed: in a record, an interval runs the same schedules with every peak but the last
/// a_{s-1} lower, and the last, after B(s), is a_{s-1} (<see cref="Peak(Part)"/>).
/// </summary>
internal sealed class ExactMinimumPeak : IChooser
{
    // Chains are immutable, so a chain's program is computed once: the frontier and the page plan one chain many times.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Chain, ExactMinimumPeak> Computed = [];

    /// <summary>The program for <paramref name="chain"/>, computed on its first use.</summary>
    public static ExactMinimumPeak For(Chain chain) => Computed.GetValue(chain, c => new ExactMinimumPeak(c));

    private readonly Sizes _sizes;
    private readonly long[] _interval, _top; // [interval] or [s], holding the input plain
    private readonly int[] _intervalChoice, _topChoice; // the chosen move and j, packed (Pack)

    private ExactMinimumPeak(Chain chain)
    {
        int L = chain.Length;
        RotorMinimumPeak.CheckLength(L);
        _sizes = new Sizes(chain, 1);
        _interval = new long[Pairs.Count(L)];
        _intervalChoice = new int[Pairs.Count(L)];
        _top = new long[L + 2];
        _topChoice = new int[L + 2];
        _top[L + 1] = _sizes.LossNeed(Holding.Plain);
        for (int d = 0; d < L; d++)
            Parallel.For(1, L - d + 1, s => Best(s, s + d, false));
        for (int s = L; s >= 1; s--)
            Best(s, L, true);
        PeakBytes = _top[1];
    }

    /// <summary>The least peak of the family: the smallest budget that any of its schedules meets.</summary>
    public long PeakBytes { get; }

    private long Peak(Part part)
    {
        long plain = part.Top ? _top[part.S] : _interval[Pairs.Index(part.S, part.T)], input = _sizes.Input(part.S);
        return part.Holding == Holding.Plain ? plain : Math.Max(input, plain - input);
    }

    private static int Pack(Candidate c) => (int)c.Move << 24 | c.J;

    /// <summary>
    /// The least peak of s..t holding its input plain. The record move is taken from the family; the checkpoints are
    /// summed here, as in <see cref="ExactTable"/>: the right part j..t is entered at the interval's memory less the
    /// input, the left part s..j-1 at the interval's own, and the advance's need only grows with j.
    /// </summary>
    private void Best(int s, int t, bool top)
    {
        int L = _sizes.Length, end = top ? L : t, index = top ? s : Pairs.Index(s, t);
        var move = _sizes.Record(Holding.Plain, s, end, top);
        (long best, int choice) = (PeakOf(move), Pack(move));
        long input = _sizes.Input(s), need = _sizes.Own(Holding.Plain, s, end, top);
        for (int j = s + 1; j <= (top ? L + 1 : t); j++)
        {
            need = Math.Max(need, _sizes.ForwardPeak(Holding.Plain, s, j - 1, end, top));
            if (need >= best)
                break; // no later checkpoint needs less
            long right = top ? _top[j] : _interval[Pairs.Index(j, t)];
            long peak = Math.Max(need, Math.Max(input + right, _interval[Pairs.Index(s, j - 1)]));
            if (peak < best)
                (best, choice) = (peak, (int)Move.Checkpoint << 24 | j);
        }
        ((top ? _top : _interval)[index], (top ? _topChoice : _intervalChoice)[index]) = (best, choice);
    }

    /// <summary>A move's least peak: the largest of its own need and each part's least peak plus its shift.</summary>
    private long PeakOf(in Candidate c)
    {
        long peak = c.Need;
        if (c.First is { } first)
            peak = Math.Max(peak, first.Shift + Peak(first));
        if (c.Second is { } second)
            peak = Math.Max(peak, second.Shift + Peak(second));
        return peak;
    }

    public Candidate Choose(Holding holding, int s, int down, int t, bool top, long memory)
    {
        int choice = top ? _topChoice[s] : _intervalChoice[Pairs.Index(s, t)]; // a record runs the plain holding's schedule
        return _sizes.Candidates(holding, s, s, t, top).First(c => Pack(c) == choice);
    }
}
