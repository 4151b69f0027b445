namespace Remat.Planners;

/// <summary>
/// The dynamic program of Beaumont et al. 2019 ("Optimal checkpointing for heterogeneous chains",
/// Theorem 1, the rotor tool): the least time of the rotor family (<see cref="RotorFamily"/>) for every
/// interval and every memory m = 0 .. K in slots. Memory is rounded so that a schedule the table finds
/// feasible is feasible in exact bytes: sizes stored are rounded up to whole slots, sizes freed down.
/// Where every size is a whole number of slots the table is exact.
/// </summary>
internal sealed class RotorTable : RotorFamily.IChooser
{
    /// <summary>The largest table this class builds, in bytes.</summary>
    public const long MaxTableBytes = 4L << 30;

    /// <summary>
    /// The most inner-loop work the table may take, L^3/6 * K memory cells: about 10 s on the 2-core machine of
    /// docs/benchmarks.md (2.8*10^9 cells, L = 256 and K = 1000, take 1.1 s).
    /// </summary>
    public const double MaxWork = 2.5e10;

    private readonly int _length, _slots;
    private readonly int[] _a, _aFreed, _abar, _ftmp, _btmp; // slots; _a and _aFreed indexed 0..L
    private readonly float[] _fb; // f_k + b_k
    private readonly double[] _prefixF; // prefix sums of f
    private readonly float[][] _interval, _top;
    private readonly int[] _intervalFrom, _topFrom; // the least memory at which each row is finite (rows never increase)

    /// <summary>Refuses a table whose work passes <see cref="MaxWork"/>, naming the number of slots that fits.</summary>
    public static void CheckWork(int length, int slots)
    {
        double work = (double)length * length * length / 6 * slots;
        if (work > MaxWork)
            throw new PlanningLimitException(
                $"the dynamic program for {length} stages and {slots} slots is too long a computation (about {work / 2.5e9:0} s here); " +
                $"use PlanOptions.Slots = {Math.Max(1, (int)(MaxWork * 6 / ((double)length * length * length)))} or fewer stages.");
    }

    /// <summary>Builds the table for memories 0 .. <paramref name="slots"/> slots of <paramref name="slotBytes"/> bytes.</summary>
    public RotorTable(Chain chain, long slotBytes, int slots)
    {
        int L = chain.Length;
        _length = L;
        _slots = slots;
        CheckWork(L, slots);
        long bytes = (long)Pairs.Count(L) * (slots + 1) * sizeof(float);
        if (bytes > MaxTableBytes)
            throw new PlanningLimitException($"the dynamic program for {L} stages and {slots} slots needs {ByteSize.Format(bytes)}, more than {ByteSize.Format(MaxTableBytes)}; use fewer slots.");
        int Up(long x) => (int)Math.Min(slots + 1L, (x + slotBytes - 1) / slotBytes);
        int Down(long x) => (int)Math.Min(slots + 1L, x / slotBytes);
        _a = new int[L + 1];
        _aFreed = new int[L + 1];
        _abar = new int[L + 1];
        _ftmp = new int[L + 1];
        _btmp = new int[L + 1];
        _fb = new float[L + 1];
        _prefixF = new double[L + 1];
        for (int k = 0; k <= L; k++)
        {
            _a[k] = Up(chain.OutputBytes(k));
            _aFreed[k] = Down(chain.OutputBytes(k));
            if (k == 0)
                continue;
            _abar[k] = Up(chain[k].SavedBytes);
            _ftmp[k] = Up(chain[k].ForwardTempBytes);
            _btmp[k] = Up(chain[k].BackwardTempBytes);
            _fb[k] = (float)(chain[k].ForwardTime + chain[k].BackwardTime);
            _prefixF[k] = _prefixF[k - 1] + chain[k].ForwardTime;
        }

        _interval = new float[Pairs.Count(L)][];
        _intervalFrom = new int[Pairs.Count(L)];
        for (int d = 0; d < L; d++)
            Parallel.For(1, L - d + 1, s =>
            {
                int p = Pairs.Index(s, s + d);
                _interval[p] = IntervalRow(s, s + d);
                _intervalFrom[p] = Rows.FirstFinite(_interval[p]);
            });
        _top = new float[L + 2][];
        _topFrom = new int[L + 2];
        _top[L + 1] = Rows.New(_slots);
        Array.Fill(_top[L + 1], 0, Math.Min(_a[L], slots + 1), Math.Max(0, slots + 1 - _a[L]));
        _topFrom[L + 1] = Rows.FirstFinite(_top[L + 1]);
        for (int s = L; s >= 1; s--)
        {
            _top[s] = TopRow(s);
            _topFrom[s] = Rows.FirstFinite(_top[s]);
        }
    }

    /// <summary>The least time of the top interval with <paramref name="memory"/> slots beyond x0; infinity if none fits.</summary>
    public float Time(int memory) => _top[1][memory];

    private float ForwardTime(int s, int end) => (float)(_prefixF[end] - _prefixF[s - 1]);

    private int ForwardPeak(int s, int j) =>
        j - 1 > s ? _a[j - 2] + _a[j - 1] + _ftmp[j - 1] : _a[s] + _ftmp[s];

    /// <summary>
    /// One way to process an interval: choice 0 records stage s, j &gt; 0 checkpoints x_{j-1}. Its time at
    /// memory m is cost + first[m - firstShift] + second[min(K, m - secondShift)], where m &gt;= need;
    /// the rows are finite from firstFrom and secondFrom on.
    /// </summary>
    private readonly record struct Candidate(int Choice, int Need, float Cost,
        float[] First, int FirstShift, int FirstFrom, float[]? Second, int SecondShift, int SecondFrom);

    /// <summary>The candidates for s..t (s &lt; t) with d_t held: record s, or checkpoint x_{j-1} for j = s+1 .. t.</summary>
    private IEnumerable<Candidate> IntervalCandidates(int s, int t)
    {
        int next = Pairs.Index(s + 1, t);
        yield return new Candidate(0, Math.Max(_abar[s] + _ftmp[s], _abar[s] + _a[s] - _aFreed[t] + _btmp[s]), _fb[s],
            _interval[next], _abar[s], _intervalFrom[next], null, 0, 0);
        int forward = 0;
        for (int j = s + 1; j <= t; j++)
        {
            forward = Math.Max(forward, ForwardPeak(s, j));
            int right = Pairs.Index(j, t), left = Pairs.Index(s, j - 1);
            // After the right part: x_{j-1} and d_t are freed and d_{j-1} is stored.
            yield return new Candidate(j, forward, ForwardTime(s, j - 1), _interval[right], _a[j - 1], _intervalFrom[right],
                _interval[left], 2 * _a[j - 1] - _aFreed[j - 1] - _aFreed[t], _intervalFrom[left]);
        }
    }

    /// <summary>The candidates for s..L before the loss: record s, or checkpoint x_{j-1} for j = s+1 .. L+1.</summary>
    private IEnumerable<Candidate> TopCandidates(int s)
    {
        yield return new Candidate(0, Math.Max(_abar[s] + _ftmp[s], _abar[s] + _a[s] + _btmp[s]), _fb[s],
            _top[s + 1], _abar[s], _topFrom[s + 1], null, 0, 0);
        int forward = 0;
        for (int j = s + 1; j <= _length + 1; j++)
        {
            forward = Math.Max(forward, ForwardPeak(s, j));
            int left = Pairs.Index(s, j - 1);
            // After the right part: d_{j-1} has replaced x_{j-1}.
            yield return new Candidate(j, forward, ForwardTime(s, j - 1), _top[j], _a[j - 1], _topFrom[j],
                _interval[left], 2 * _a[j - 1] - _aFreed[j - 1], _intervalFrom[left]);
        }
    }

    private float[] IntervalRow(int s, int t)
    {
        var best = Rows.New(_slots);
        if (s == t)
        {
            int need = Math.Max(_abar[s] + _ftmp[s], _abar[s] + _btmp[s]);
            if (need <= _slots)
                Array.Fill(best, _fb[s], need, _slots + 1 - need);
            return best;
        }
        foreach (var c in IntervalCandidates(s, t))
            Relax(best, c);
        return best;
    }

    private float[] TopRow(int s)
    {
        var best = Rows.New(_slots);
        foreach (var c in TopCandidates(s))
            Relax(best, c);
        return best;
    }

    /// <summary>The least memory at which a candidate can fit.</summary>
    private static int Lowest(Candidate c) =>
        Math.Max(Math.Max(c.Need, c.FirstShift + c.FirstFrom), c.Second is null ? 0 : Math.Max(c.SecondShift, c.SecondShift + c.SecondFrom));

    /// <summary>best[m] = min(best[m], the candidate's time at m) for every m from its lowest to K.</summary>
    private void Relax(float[] best, Candidate candidate)
    {
        var (_, _, c, first, firstShift, _, second, secondShift, _) = candidate;
        int lo = Lowest(candidate);
        if (lo > _slots)
            return;
        int clampFrom = second is null ? _slots + 1 : Math.Clamp(_slots + secondShift + 1, lo, _slots + 1);
        int n = clampFrom - lo;
        var b = best.AsSpan(lo, n);
        var f = first.AsSpan(lo - firstShift, n);
        if (second is null)
            Rows.MinInto(b, c, f, default, false);
        else
            Rows.MinInto(b, c, f, second.AsSpan(lo - secondShift, n), true);
        if (second is not null && clampFrom <= _slots)
        {
            float cap = second[_slots]; // more memory than the table holds: the K-slot time is an upper bound
            for (int m = clampFrom; m <= _slots; m++)
                best[m] = Math.Min(best[m], c + first[m - firstShift] + cap);
        }
    }

    public RotorFamily.Choice Interval(int s, int t, long memory) => Choose(IntervalCandidates(s, t), (int)memory);

    public RotorFamily.Choice Top(int s, long memory) => Choose(TopCandidates(s), (int)memory);

    /// <summary>The fastest candidate at memory m, timed as <see cref="Relax"/> times it, and the memory of its parts.</summary>
    private RotorFamily.Choice Choose(IEnumerable<Candidate> candidates, int m)
    {
        var best = default(RotorFamily.Choice);
        float bestTime = float.PositiveInfinity;
        foreach (var c in candidates)
        {
            if (m < Lowest(c))
                continue;
            float time = c.Second is null
                ? c.Cost + c.First[m - c.FirstShift]
                : c.Cost + c.First[m - c.FirstShift] + c.Second[Math.Min(_slots, m - c.SecondShift)];
            if (time < bestTime)
                (bestTime, best) = (time, new RotorFamily.Choice(c.Choice, m - c.FirstShift, Math.Min(_slots, m - c.SecondShift)));
        }
        return best;
    }
}
