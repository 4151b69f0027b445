using static Remat.Planners.ExactFamily;

namespace Remat.Planners;

/// <summary>
/// The least peak of any schedule of <see cref="ExactFamily"/>, in exact bytes, and a schedule that reaches it: the
/// memory counterpart of <see cref="ExactTable"/>, O(L^3). Each interval's least peak is the least, over its
/// candidates, of the largest of the candidate's own need and each part's least peak plus its shift.
/// </summary>
internal sealed class ExactMinimumPeak : IChooser
{
    // Chains are immutable, so a chain's program is computed once: the frontier and the page plan one chain many times.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Chain, ExactMinimumPeak> Computed = [];

    /// <summary>The program for <paramref name="chain"/>, computed on its first use.</summary>
    public static ExactMinimumPeak For(Chain chain) => Computed.GetValue(chain, c => new ExactMinimumPeak(c));

    private readonly Sizes _sizes;
    private readonly long[][] _interval, _top; // [holding][interval or s]
    private readonly int[][] _intervalChoice, _topChoice; // the chosen move and j, packed (Pack)

    private ExactMinimumPeak(Chain chain)
    {
        int L = chain.Length;
        Optimal.CheckLength(L);
        _sizes = new Sizes(chain, 1);
        _interval = new long[2][];
        _top = new long[2][];
        _intervalChoice = new int[2][];
        _topChoice = new int[2][];
        for (int h = 0; h < 2; h++)
        {
            _interval[h] = new long[Pairs.Count(L)];
            _intervalChoice[h] = new int[Pairs.Count(L)];
            _top[h] = new long[L + 2];
            _topChoice[h] = new int[L + 2];
            _top[h][L + 1] = _sizes.LossNeed((Holding)h);
        }
        for (int d = 0; d < L; d++)
            Parallel.For(1, L - d + 1, s => Best(s, s + d, false));
        for (int s = L; s >= 1; s--)
            Best(s, L, true);
        PeakBytes = _top[(int)Holding.Plain][1];
    }

    /// <summary>The least peak of the family: the smallest budget that any of its schedules meets.</summary>
    public long PeakBytes { get; }

    private long Peak(Part part) =>
        part.Top ? _top[(int)part.Holding][part.S] : _interval[(int)part.Holding][Pairs.Index(part.S, part.T)];

    private static int Pack(Candidate c) => (int)c.Move << 24 | c.J;

    /// <summary>
    /// The least peak of s..t in both holdings at once. The record move is taken from the family; the checkpoints
    /// share one loop over j, as in <see cref="ExactTable"/>: the right part j..t is entered at the interval's memory
    /// less the plain input (nothing in the record), the left part s..j-1 at the interval's own, and the advance's
    /// need, which only grows with j, is the record's plus the plain input.
    /// </summary>
    private void Best(int s, int t, bool top)
    {
        int L = _sizes.Length, end = top ? L : t, index = top ? s : Pairs.Index(s, t);
        Span<long> best = stackalloc long[2];
        Span<int> choice = stackalloc int[2];
        for (int h = 0; h < 2; h++)
        {
            var move = _sizes.Record((Holding)h, s, end, top);
            (best[h], choice[h]) = (PeakOf(move), Pack(move));
        }
        long ownR = _sizes.Own(Holding.Record, s, end, top), input = _sizes.Input(s);
        long need = ownR;
        long[] plain = _interval[(int)Holding.Plain], record = _interval[(int)Holding.Record];
        for (int j = s + 1; j <= (top ? L + 1 : t); j++)
        {
            need = Math.Max(need, _sizes.ForwardPeak(Holding.Record, s, j - 1, end, top));
            if (need + input >= best[0] && need >= best[1])
                break; // no later checkpoint needs less
            long right = top ? _top[(int)Holding.Plain][j] : plain[Pairs.Index(j, t)];
            int left = Pairs.Index(s, j - 1);
            int packed = (int)Move.Checkpoint << 24 | j;
            long peak = Math.Max(need + input, Math.Max(input + right, plain[left]));
            if (peak < best[0])
                (best[0], choice[0]) = (peak, packed);
            peak = Math.Max(need, Math.Max(right, record[left]));
            if (peak < best[1])
                (best[1], choice[1]) = (peak, packed);
        }
        for (int h = 0; h < 2; h++)
            ((top ? _top : _interval)[h][index], (top ? _topChoice : _intervalChoice)[h][index]) = (best[h], choice[h]);
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
        int choice = top ? _topChoice[(int)holding][s] : _intervalChoice[(int)holding][Pairs.Index(s, t)];
        return _sizes.Candidates(holding, s, s, t, top).First(c => Pack(c) == choice);
    }
}
