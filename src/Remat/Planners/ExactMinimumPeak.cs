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
        RotorMinimumPeak.CheckLength(L);
        _sizes = new Sizes(chain, 1);
        _interval = new long[3][];
        _top = new long[3][];
        _intervalChoice = new int[3][];
        _topChoice = new int[3][];
        for (int h = 0; h < 3; h++)
        {
            _interval[h] = new long[Pairs.Count(L)];
            _intervalChoice[h] = new int[Pairs.Count(L)];
            _top[h] = new long[L + 2];
            _topChoice[h] = new int[L + 2];
            _top[h][L + 1] = _sizes.LossNeed((Holding)h);
        }
        for (int d = 0; d < L; d++)
            Parallel.For(1, L - d + 1, s =>
            {
                int p = Pairs.Index(s, s + d);
                for (int h = 0; h < 3; h++)
                    (_interval[h][p], _intervalChoice[h][p]) = Best((Holding)h, s, s + d, false);
            });
        for (int s = L; s >= 1; s--)
            Parallel.For(0, 3, h => (_top[h][s], _topChoice[h][s]) = Best((Holding)h, s, L, true));
        PeakBytes = _top[(int)Holding.Plain][1];
    }

    /// <summary>The least peak of the family: the smallest budget that any of its schedules meets.</summary>
    public long PeakBytes { get; }

    private long Peak(Part part) =>
        part.Top ? _top[(int)part.Holding][part.S] : _interval[(int)part.Holding][Pairs.Index(part.S, part.T)];

    private static int Pack(Candidate c) => (int)c.Move << 24 | c.J;

    private (long, int) Best(Holding holding, int s, int t, bool top)
    {
        long best = long.MaxValue;
        int choice = 0;
        foreach (var c in _sizes.Candidates(holding, s, s, t, top))
        {
            if (c.Move == Move.Checkpoint && c.Need >= best)
                break; // the checkpoints come in order of j, and an advance's need only grows with it
            long peak = c.Need;
            if (c.First is { } first)
                peak = Math.Max(peak, first.Shift + Peak(first));
            if (c.Second is { } second)
                peak = Math.Max(peak, second.Shift + Peak(second));
            if (peak < best)
                (best, choice) = (peak, Pack(c));
        }
        return (best, choice);
    }

    public Candidate Choose(Holding holding, int s, int down, int t, bool top, long memory)
    {
        int choice = top ? _topChoice[(int)holding][s] : _intervalChoice[(int)holding][Pairs.Index(s, t)];
        return _sizes.Candidates(holding, s, s, t, top).First(c => Pack(c) == choice);
    }
}
