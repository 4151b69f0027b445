using System.Numerics;
using System.Runtime.InteropServices;

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

    private readonly int _length, _slots;
    private readonly int[] _a, _aFreed, _abar, _ftmp, _btmp; // slots; _a and _aFreed indexed 0..L
    private readonly float[] _fb; // f_k + b_k
    private readonly double[] _prefixF; // prefix sums of f
    private readonly float[][] _interval, _top;
    private readonly int[] _intervalFrom, _topFrom; // the least memory at which each row is finite (rows never increase)

    /// <summary>Builds the table for memories 0 .. <paramref name="slots"/> slots of <paramref name="slotBytes"/> bytes.</summary>
    public RotorTable(Chain chain, long slotBytes, int slots)
    {
        int L = chain.Length;
        _length = L;
        _slots = slots;
        long bytes = (long)Pairs.Count(L) * (slots + 1) * sizeof(float);
        if (bytes > MaxTableBytes)
            throw new PlanningLimitException($"the dynamic program for {L} stages and {slots} slots needs {Size.Format(bytes)}, more than {Size.Format(MaxTableBytes)}; use fewer slots.");
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
                _intervalFrom[p] = FirstFinite(_interval[p]);
            });
        _top = new float[L + 2][];
        _topFrom = new int[L + 2];
        _top[L + 1] = Row();
        Array.Fill(_top[L + 1], 0, Math.Min(_a[L], slots + 1), Math.Max(0, slots + 1 - _a[L]));
        _topFrom[L + 1] = FirstFinite(_top[L + 1]);
        for (int s = L; s >= 1; s--)
        {
            _top[s] = TopRow(s);
            _topFrom[s] = FirstFinite(_top[s]);
        }
    }

    /// <summary>The least time of the top interval with <paramref name="memory"/> slots beyond x0; infinity if none fits.</summary>
    public float Time(int memory) => _top[1][memory];

    private float[] Row()
    {
        var row = new float[_slots + 1];
        Array.Fill(row, float.PositiveInfinity);
        return row;
    }

    private int FirstFinite(float[] row)
    {
        int m = 0;
        while (m <= _slots && float.IsPositiveInfinity(row[m]))
            m++;
        return m;
    }

    private float ForwardTime(int s, int end) => (float)(_prefixF[end] - _prefixF[s - 1]);

    private int ForwardPeak(int s, int j) =>
        j - 1 > s ? _a[j - 2] + _a[j - 1] + _ftmp[j - 1] : _a[s] + _ftmp[s];

    private float[] IntervalRow(int s, int t)
    {
        var best = Row();
        if (s == t)
        {
            int need = Math.Max(_abar[s] + _ftmp[s], _abar[s] + _btmp[s]);
            if (need <= _slots)
                Array.Fill(best, _fb[s], need, _slots + 1 - need);
            return best;
        }
        int chainNeed = Math.Max(Math.Max(_abar[s] + _ftmp[s], _abar[s] + _a[s] - _aFreed[t] + _btmp[s]), _abar[s]);
        Relax(best, Math.Max(chainNeed, _intervalFrom[Pairs.Index(s + 1, t)] + _abar[s]), _fb[s], _interval[Pairs.Index(s + 1, t)], _abar[s], null, 0);
        int forward = 0;
        for (int j = s + 1; j <= t; j++)
        {
            forward = Math.Max(forward, ForwardPeak(s, j));
            int right = _a[j - 1], left = 2 * _a[j - 1] - _aFreed[j - 1] - _aFreed[t];
            int lo = Math.Max(Math.Max(forward, Math.Max(right, left)),
                Math.Max(_intervalFrom[Pairs.Index(j, t)] + right, _intervalFrom[Pairs.Index(s, j - 1)] + left));
            Relax(best, lo, ForwardTime(s, j - 1), _interval[Pairs.Index(j, t)], right, _interval[Pairs.Index(s, j - 1)], left);
        }
        return best;
    }

    private float[] TopRow(int s)
    {
        var best = Row();
        int chainNeed = Math.Max(_abar[s] + _ftmp[s], _abar[s] + _a[s] + _btmp[s]);
        Relax(best, Math.Max(chainNeed, _topFrom[s + 1] + _abar[s]), _fb[s], _top[s + 1], _abar[s], null, 0);
        int forward = 0;
        for (int j = s + 1; j <= _length + 1; j++)
        {
            forward = Math.Max(forward, ForwardPeak(s, j));
            int right = _a[j - 1], left = 2 * _a[j - 1] - _aFreed[j - 1];
            int lo = Math.Max(Math.Max(forward, left), Math.Max(_topFrom[j] + right, _intervalFrom[Pairs.Index(s, j - 1)] + left));
            Relax(best, lo, ForwardTime(s, j - 1), _top[j], right, _interval[Pairs.Index(s, j - 1)], left);
        }
        return best;
    }

    /// <summary>
    /// best[m] = min(best[m], c + first[m - firstShift] + second[min(K, m - secondShift)]) for m = lo .. K;
    /// <paramref name="second"/> null means no second part.
    /// </summary>
    private void Relax(float[] best, int lo, float c, float[] first, int firstShift, float[]? second, int secondShift)
    {
        lo = Math.Max(lo, Math.Max(firstShift, second is null ? 0 : secondShift));
        if (lo > _slots)
            return;
        int clampFrom = second is null ? _slots + 1 : Math.Clamp(_slots + secondShift + 1, lo, _slots + 1);
        int n = clampFrom - lo;
        var b = best.AsSpan(lo, n);
        var f = first.AsSpan(lo - firstShift, n);
        if (second is null)
            MinInto(b, c, f, default, false);
        else
            MinInto(b, c, f, second.AsSpan(lo - secondShift, n), true);
        if (second is not null && clampFrom <= _slots)
        {
            float cap = second[_slots]; // more memory than the table holds: the K-slot time is an upper bound
            for (int m = clampFrom; m <= _slots; m++)
                best[m] = Math.Min(best[m], c + first[m - firstShift] + cap);
        }
    }

    private static void MinInto(Span<float> best, float c, ReadOnlySpan<float> first, ReadOnlySpan<float> second, bool hasSecond)
    {
        // The hot loop of the planner: one vector of memories at a time.
        int n = best.Length, i = 0, w = Vector<float>.Count;
        ref float b = ref MemoryMarshal.GetReference(best);
        ref float f = ref MemoryMarshal.GetReference(first);
        ref float g = ref MemoryMarshal.GetReference(second);
        var cv = new Vector<float>(c);
        if (hasSecond)
        {
            for (; i + w <= n; i += w)
            {
                var v = cv + Vector.LoadUnsafe(ref f, (nuint)i) + Vector.LoadUnsafe(ref g, (nuint)i);
                Vector.Min(v, Vector.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref b, (nuint)i);
            }
            for (; i < n; i++)
                best[i] = Math.Min(best[i], c + first[i] + second[i]);
        }
        else
        {
            for (; i + w <= n; i += w)
                Vector.Min(cv + Vector.LoadUnsafe(ref f, (nuint)i), Vector.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref b, (nuint)i);
            for (; i < n; i++)
                best[i] = Math.Min(best[i], c + first[i]);
        }
    }

    public RotorFamily.Choice Interval(int s, int t, long memory)
    {
        int m = (int)memory;
        var best = new RotorFamily.Choice(0, m - _abar[s], 0);
        float bestTime = Candidate(m, Math.Max(Math.Max(_abar[s] + _ftmp[s], _abar[s] + _a[s] - _aFreed[t] + _btmp[s]), _abar[s]),
            _fb[s], _interval[Pairs.Index(s + 1, t)], _abar[s], null, 0);
        int forward = 0;
        for (int j = s + 1; j <= t; j++)
        {
            forward = Math.Max(forward, ForwardPeak(s, j));
            int right = _a[j - 1], left = 2 * _a[j - 1] - _aFreed[j - 1] - _aFreed[t];
            float time = Candidate(m, Math.Max(forward, Math.Max(right, left)), ForwardTime(s, j - 1),
                _interval[Pairs.Index(j, t)], right, _interval[Pairs.Index(s, j - 1)], left);
            if (time < bestTime)
                (bestTime, best) = (time, new RotorFamily.Choice(j, m - right, Math.Min(_slots, m - left)));
        }
        return best;
    }

    public RotorFamily.Choice Top(int s, long memory)
    {
        int m = (int)memory;
        var best = new RotorFamily.Choice(0, m - _abar[s], 0);
        float bestTime = Candidate(m, Math.Max(_abar[s] + _ftmp[s], _abar[s] + _a[s] + _btmp[s]), _fb[s], _top[s + 1], _abar[s], null, 0);
        int forward = 0;
        for (int j = s + 1; j <= _length + 1; j++)
        {
            forward = Math.Max(forward, ForwardPeak(s, j));
            int right = _a[j - 1], left = 2 * _a[j - 1] - _aFreed[j - 1];
            float time = Candidate(m, Math.Max(forward, left), ForwardTime(s, j - 1), _top[j], right, _interval[Pairs.Index(s, j - 1)], left);
            if (time < bestTime)
                (bestTime, best) = (time, new RotorFamily.Choice(j, m - right, m - left));
        }
        return best;
    }

    /// <summary>The time of one candidate at memory m, as <see cref="Relax"/> computes it; infinity where it does not fit.</summary>
    private float Candidate(int m, int lo, float c, float[] first, int firstShift, float[]? second, int secondShift)
    {
        if (m < Math.Max(lo, Math.Max(firstShift, second is null ? 0 : secondShift)))
            return float.PositiveInfinity;
        return second is null ? c + first[m - firstShift] : c + first[m - firstShift] + second[Math.Min(_slots, m - secondShift)];
    }
}
