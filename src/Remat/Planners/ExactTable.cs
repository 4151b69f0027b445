using static Remat.Planners.ExactFamily;

namespace Remat.Planners;

/// <summary>
/// Remat's exact dynamic program: the least time of <see cref="ExactFamily"/> for every interval, every way of holding
/// its input and every memory m = 0 .. K slots (the recurrence is in docs/planners.md). As in rotor's table
/// (<see cref="RotorTable"/>), sizes stored are rounded up to whole slots and sizes freed down, so a schedule the
/// table finds feasible is feasible in exact bytes, and where every size is a whole number of slots the table is exact.
/// </summary>
internal sealed class ExactTable : IChooser
{
    /// <summary>The most inner-loop work the table may take, in memory cells (see <see cref="CheckWork"/>).</summary>
    public const double MaxWork = 4e10;

    private readonly int _slots;
    private readonly Sizes _sizes;
    private readonly int _length;
    /// <summary>Rows up to this many memories are also stored by start (see <see cref="RowOf"/>); longer rows stream well on their own.</summary>
    private const int ShortRow = 256;

    private readonly float[][] _byEnd, _byStart; // [holding][interval * (K + 1) + memory], see RowOf
    private readonly bool _twoOrders;
    private readonly float[][][] _top; // [holding][s][memory]
    private readonly int[][] _intervalFrom, _topFrom; // the least memory at which each row is finite (rows never increase)
    private readonly float[][] _intervalLeast, _topLeast; // each row's least time, at K (flat, so bounds read no row)

    /// <summary>
    /// Refuses a table whose work passes <see cref="MaxWork"/> (about 20 s on the 2-core machine of docs/benchmarks.md),
    /// naming the number of slots that fits: L^3/3 * K cells, two loops over the checkpoint of every interval (the
    /// record and both-ways rows share one) at every memory.
    /// </summary>
    public static void CheckWork(int length, int slots)
    {
        double cube = (double)length * length * length;
        if (cube / 3 * slots > MaxWork)
            throw new PlanningLimitException(
                $"the dynamic program for {length} stages and {slots} slots is too long a computation; " +
                $"use --slots {Math.Max(1, (int)(MaxWork * 3 / cube))} or fewer stages.");
    }

    /// <summary>Builds the table for memories 0 .. <paramref name="slots"/> slots of <paramref name="slotBytes"/> bytes.</summary>
    public ExactTable(Chain chain, long slotBytes, int slots)
    {
        int L = chain.Length;
        _length = L;
        _slots = slots;
        _sizes = new Sizes(chain, slotBytes);
        long cells = (long)Pairs.Count(L) * (slots + 1);
        if (cells > Array.MaxLength)
            throw new PlanningLimitException(
                $"the dynamic program for {L} stages and {slots} slots does not fit in memory; use --slots {Array.MaxLength / Pairs.Count(L) - 1} or fewer.");
        _twoOrders = slots + 1 <= ShortRow;
        _byEnd = new float[3][];
        _byStart = new float[3][];
        _intervalFrom = new int[3][];
        _top = new float[3][][];
        _topFrom = new int[3][];
        _intervalLeast = new float[3][];
        _topLeast = new float[3][];
        for (int h = 0; h < 3; h++)
        {
            _byEnd[h] = new float[cells];
            _byStart[h] = _twoOrders && (Holding)h != Holding.Both ? new float[cells] : []; // no left part holds its input both ways
            _intervalFrom[h] = new int[Pairs.Count(L)];
            _intervalLeast[h] = new float[Pairs.Count(L)];
            _top[h] = new float[L + 2][];
            _topFrom[h] = new int[L + 2];
            _topLeast[h] = new float[L + 2];
            var loss = Rows.New(_slots);
            long need = _sizes.LossNeed((Holding)h);
            if (need <= slots)
                Array.Fill(loss, 0, (int)need, slots + 1 - (int)need);
            Store((Holding)h, L + 1, L, true, loss);
        }
        for (int d = 0; d < L; d++)
            Parallel.For(0, 2 * (L - d), i => Compute(1 + i / 2, 1 + i / 2 + d, false, plain: i % 2 == 0));
        for (int s = L; s >= 1; s--)
            Parallel.For(0, 2, i => Compute(s, L, true, plain: i == 0));
    }

    /// <summary>The least time of the whole chain with <paramref name="memory"/> slots, x0 included; infinity if none fits.</summary>
    public float Time(int memory) => _top[(int)Holding.Plain][1][memory];

    /// <summary>
    /// A part's row. Short interval rows are stored twice, in two orders, so that the loop over the checkpoint j of
    /// s..t reads both its parts' rows in the order they lie in memory: the right parts j..t by their end (the order
    /// of <see cref="Pairs.Index"/>), the left parts s..j-1 by their start (<see cref="Pairs.IndexByStart"/>).
    /// </summary>
    private ReadOnlySpan<float> RowOf(Part part, bool left = false)
    {
        if (part.Top)
            return _top[(int)part.Holding][part.S];
        int width = _slots + 1;
        left &= _twoOrders;
        long index = left ? Pairs.IndexByStart(_length, part.S, part.T) : Pairs.Index(part.S, part.T);
        return (left ? _byStart : _byEnd)[(int)part.Holding].AsSpan().Slice((int)(index * width), width);
    }

    private int FromOf(Part part) =>
        part.Top ? _topFrom[(int)part.Holding][part.S] : _intervalFrom[(int)part.Holding][Pairs.Index(part.S, part.T)];

    private float LeastOf(Part part) =>
        part.Top ? _topLeast[(int)part.Holding][part.S] : _intervalLeast[(int)part.Holding][Pairs.Index(part.S, part.T)];

    /// <summary>
    /// The row of s..t holding its input plain, or (<paramref name="plain"/> false) the rows holding it in a record and
    /// both ways. Those two share their checkpoint moves: holding both ways, the first forward is Fn(s), which drops
    /// the plain copy, so from then on it is the record's advance in the same memory. One loop over j serves both,
    /// and the both-ways row takes it only where its larger first forward fits.
    /// </summary>
    private void Compute(int s, int t, bool top, bool plain)
    {
        if (plain)
        {
            var row = Rows.New(_slots);
            foreach (var c in _sizes.Candidates(Holding.Plain, s, s, t, top))
                Relax(row, c);
            Store(Holding.Plain, s, t, top, row);
            return;
        }
        var checkpoints = Rows.New(_slots);
        Candidate? recordMove = null;
        foreach (var c in _sizes.Candidates(Holding.Record, s, s, t, top))
        {
            if (c.Move == Move.Checkpoint)
                Relax(checkpoints, c);
            else
                recordMove = c;
        }
        var record = (float[])checkpoints.Clone();
        Relax(record, recordMove!.Value);
        Store(Holding.Record, s, t, top, record);
        var both = checkpoints;
        var records = new List<Candidate>(2);
        long firstForward = long.MaxValue;
        foreach (var c in _sizes.Candidates(Holding.Both, s, s, t, top))
        {
            if (c.Move == Move.Checkpoint)
            {
                firstForward = c.Need; // the least need of Both's advances: its needs only grow with j
                break;
            }
            records.Add(c); // the record moves come first
        }
        Array.Fill(both, float.PositiveInfinity, 0, (int)Math.Min(_slots + 1L, firstForward));
        foreach (var c in records)
            Relax(both, c);
        Store(Holding.Both, s, t, top, both);
    }

    private void Store(Holding holding, int s, int t, bool top, float[] row)
    {
        if (top)
        {
            _top[(int)holding][s] = row;
            _topFrom[(int)holding][s] = Rows.FirstFinite(row);
            _topLeast[(int)holding][s] = row[_slots];
        }
        else
        {
            int p = Pairs.Index(s, t), width = _slots + 1;
            row.CopyTo(_byEnd[(int)holding].AsSpan().Slice((int)((long)p * width), width));
            if (_twoOrders && holding != Holding.Both)
                row.CopyTo(_byStart[(int)holding].AsSpan().Slice((int)((long)Pairs.IndexByStart(_length, s, t) * width), width));
            _intervalFrom[(int)holding][p] = Rows.FirstFinite(row);
            _intervalLeast[(int)holding][p] = row[_slots];
        }
    }

    /// <summary>The least memory at which a candidate fits: its own need, and each part at least at its row's first finite memory.</summary>
    private long Lowest(in Candidate c)
    {
        long lo = c.Need;
        if (c.First is { } first)
            lo = Math.Max(lo, first.Shift + FromOf(first));
        if (c.Second is { } second)
            lo = Math.Max(lo, second.Shift + FromOf(second));
        return lo;
    }

    /// <summary>best[m] = min(best[m], the candidate's time at m) for every m from its lowest to K.</summary>
    private void Relax(float[] best, in Candidate c)
    {
        long lo = Lowest(c);
        if (lo > _slots)
            return;
        int from = (int)lo, n = Useful(best, from, Bound(c)) - from;
        if (n <= 0)
            return;
        var b = best.AsSpan(from, n);
        if (c.First is not { } first)
        {
            for (int i = 0; i < n; i++) // a single stage: its time does not depend on memory
                b[i] = Math.Min(b[i], c.Cost);
            return;
        }
        var f = RowOf(first).Slice(from - (int)first.Shift, n);
        if (c.Second is { } second)
            Rows.MinInto(b, c.Cost, f, RowOf(second, left: true).Slice(from - (int)second.Shift, n), true);
        else
            Rows.MinInto(b, c.Cost, f, default, false);
    }

    /// <summary>
    /// The least time a candidate takes at any memory: its parts at K slots, where their rows are least. Summed in the
    /// order of <see cref="Rows.MinInto"/>, and float addition is monotone, so no memory gives the candidate a smaller time.
    /// </summary>
    private float Bound(in Candidate c)
    {
        float time = c.Cost;
        if (c.First is { } first)
            time += LeastOf(first);
        if (c.Second is { } second)
            time += LeastOf(second);
        return time;
    }

    /// <summary>
    /// The end of the memories where a candidate bounded below by <paramref name="bound"/> can still improve the row:
    /// the row never increases, so past the first memory where it is at most the bound, nothing is left to gain.
    /// </summary>
    private int Useful(float[] best, int from, float bound)
    {
        if (best[from] <= bound)
            return from;
        int lo = from + 1, hi = _slots + 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (best[mid] <= bound) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    /// <summary>The fastest candidate at memory m, timed as <see cref="Relax"/> times it.</summary>
    public Candidate Choose(Holding holding, int s, int down, int t, bool top, long memory)
    {
        Candidate best = default;
        float bestTime = float.PositiveInfinity;
        foreach (var c in _sizes.Candidates(holding, s, s, t, top))
        {
            if (memory < Lowest(c))
                continue;
            float time = c.Cost; // summed in the order of MinInto, so the pick has the time the row holds
            if (c.First is { } first)
                time += RowOf(first)[(int)(memory - first.Shift)];
            if (c.Second is { } second)
                time += RowOf(second)[(int)(memory - second.Shift)];
            if (time < bestTime)
                (bestTime, best) = (time, c);
        }
        return best;
    }
}
