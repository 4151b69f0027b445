namespace Remat.Planners;

/// <summary>
/// The least peak memory of any schedule of the rotor family (<see cref="RotorFamily"/>), in exact bytes,
/// and a schedule that reaches it. A dynamic program over intervals, O(L^3): the memory counterpart of
/// the time recurrence of Beaumont et al. 2019 (Theorem 1).
/// </summary>
internal sealed class RotorMinimumPeak : RotorFamily.IChooser
{
    private readonly long[] _interval, _top; // relative peaks
    private readonly int[] _intervalChoice, _topChoice;

    public RotorMinimumPeak(Chain chain)
    {
        int L = chain.Length;
        Optimal.CheckLength(L);
        long A(int k) => chain.OutputBytes(k);
        long Abar(int k) => chain[k].SavedBytes;
        long Ft(int k) => chain[k].ForwardTempBytes;
        long Bt(int k) => chain[k].BackwardTempBytes;
        _interval = new long[Pairs.Count(L)];
        _intervalChoice = new int[Pairs.Count(L)];
        _top = new long[L + 2];
        _topChoice = new int[L + 2];

        for (int d = 0; d < L; d++)
        {
            for (int s = 1; s + d <= L; s++)
            {
                int t = s + d, p = Pairs.Index(s, t);
                long best = d == 0
                    ? Math.Max(Abar(s) + Ft(s), Abar(s) + Bt(s))
                    : Max(Abar(s) + Ft(s), Abar(s) + _interval[Pairs.Index(s + 1, t)], Abar(s) + A(s) - A(t) + Bt(s));
                int choice = 0;
                long forward = A(s) + Ft(s);
                for (int j = s + 1; j <= t; j++)
                {
                    if (j - 1 > s)
                        forward = Math.Max(forward, A(j - 2) + A(j - 1) + Ft(j - 1));
                    long peak = Max(forward, A(j - 1) + _interval[Pairs.Index(j, t)], A(j - 1) - A(t) + _interval[Pairs.Index(s, j - 1)]);
                    if (peak < best)
                        (best, choice) = (peak, j);
                }
                _interval[p] = best;
                _intervalChoice[p] = choice;
            }
        }

        _top[L + 1] = A(L); // the loss: d_L is stored while x_L is still held
        for (int s = L; s >= 1; s--)
        {
            long best = Max(Abar(s) + Ft(s), Abar(s) + _top[s + 1], Abar(s) + A(s) + Bt(s));
            int choice = 0;
            long forward = A(s) + Ft(s);
            for (int j = s + 1; j <= L + 1; j++)
            {
                if (j - 1 > s)
                    forward = Math.Max(forward, A(j - 2) + A(j - 1) + Ft(j - 1));
                long peak = Max(forward, A(j - 1) + _top[j], A(j - 1) + _interval[Pairs.Index(s, j - 1)]);
                if (peak < best)
                    (best, choice) = (peak, j);
            }
            _top[s] = best;
            _topChoice[s] = choice;
        }
        PeakBytes = chain.InputBytes + _top[1];
    }

    /// <summary>The least peak of the family: the smallest budget that a rotor schedule meets.</summary>
    public long PeakBytes { get; }

    public RotorFamily.Choice Interval(int s, int t, long memory) => new(_intervalChoice[Pairs.Index(s, t)], 0, 0);

    public RotorFamily.Choice Top(int s, long memory) => new(_topChoice[s], 0, 0);

    private static long Max(long a, long b, long c) => Math.Max(a, Math.Max(b, c));
}
