using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Remat.Planners.ExactFamily;

namespace Remat.Planners;

/// <summary>
/// Remat's exact dynamic program: the least time of <see cref="ExactFamily"/> without consuming parts, for every
/// interval holding its input plain and every memory m = 0 .. K slots (the recurrence is in docs/planners.md). An
/// interval holding its input in a record is the same interval with the input's memory given back: its row is the
/// plain one read at m + a_{s-1}, where m is at least a_{s-1} (<see cref="Record"/>), so one row per interval is
/// computed and kept.
/// As in rotor's table (tests/Reference/RotorTable.cs), sizes stored are rounded up to whole slots and sizes freed down, so a
/// schedule the table finds feasible is feasible in exact bytes, and where every size is a whole number of slots the
/// table is exact.
/// <para>
/// The recurrence for s..t reads the right parts j..t and the left parts s..j-1 of every checkpoint j at the same or
/// smaller memories, so the table is computed in an order that keeps those reads in cache rather than by length. The
/// rows lie in one array, the top intervals s..L (with the loss) as a column t = L + 1. Starts are taken in groups of
/// <see cref="Group"/> from the end of the chain; a group runs through the memories a block of <see cref="Width"/> at
/// a time and, within a block, through its intervals by end, every start of the group at each end. The group's own
/// rows at the current block, its intervals' left parts, are kept apart in the order they are read, and each right
/// part's block serves every start of the group. A checkpoint is skipped for a block where its time at the block's
/// last memory is no less than the best time so far at the block's first memory (rows never increase, so it cannot
/// lower any memory of the block); the rows are the same as without the skip. The groups run on all cores, each a
/// step behind the one before it, whose rows it reads.
/// </para>
/// </summary>
internal sealed class ExactTable : IChooser
{
    /// <summary>The most inner-loop work the table may take, in memory cells (see <see cref="CheckWork"/>).</summary>
    public const double MaxWork = 3e11;

    /// <summary>
    /// Cells a second on the 2-core machine of docs/benchmarks.md: 1,024 stages at 1,000 slots, 1.8 * 10^11 cells, took
    /// 11-14 s.
    /// </summary>
    private const double CellsPerSecond = 1.3e10;

    /// <summary>The largest table this class builds, in bytes (a row of floats per interval): 1,024 stages at 1,000 slots take 2.2 GB.</summary>
    public const long MaxTableBytes = 5L << 30;

    /// <summary>Memories per block: four vectors of eight.</summary>
    private const int Width = 32;

    /// <summary>Starts per group.</summary>
    private const int Group = 16;

    private static readonly Vector256<int> Lanes0 = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Lanes1 = Lanes0 + Vector256.Create(8),
        Lanes2 = Lanes0 + Vector256.Create(16), Lanes3 = Lanes0 + Vector256.Create(24);

    private readonly int _length, _stride, _pairs; // _pairs: the intervals, the top ones (t = L + 1) included
    private readonly Sizes _sizes;
    private readonly float[] _rows; // [origin + Pairs.Index(s, t) * stride + m]; t = L + 1 is the top interval s..L
    private readonly int _origin; // the first float of the rows, on a cache line
    private readonly float[] _ends; // [block * Pairs.Count(L + 1) + Pairs.Index(s, t)]: the rows at each block's last memory

    /// <summary>
    /// Refuses a table whose work passes <see cref="MaxWork"/> (about 25 s on the 2-core machine of docs/benchmarks.md:
    /// L^3/6 * K cells, the checkpoints of every interval at every memory) or whose rows pass
    /// <see cref="MaxTableBytes"/>, naming the number of slots that fits.
    /// </summary>
    public static void CheckWork(int length, int slots)
    {
        double cells = (double)length * length * length / 6;
        long rowsBytes = (long)Pairs.Count(length + 1) * sizeof(float);
        int fits = (int)Math.Min(MaxWork / cells, (double)MaxTableBytes / rowsBytes - Width);
        if (cells * slots > MaxWork || rowsBytes * Stride(slots) > MaxTableBytes)
            throw new PlanningLimitException(
                $"the dynamic program for {length} stages and {slots} slots is too large a computation for this planner " +
                $"(about {cells * slots / CellsPerSecond:0} s and {ByteSize.Format(rowsBytes * Stride(slots))}); use PlanOptions.Slots = {Math.Max(1, fits)} or fewer stages.");
    }

    /// <summary>The length of a row: K + 1 memories, rounded up to whole blocks.</summary>
    private static int Stride(int slots) => (slots + Width) / Width * Width;

    /// <summary>Builds the table for memories 0 .. <paramref name="slots"/> slots of <paramref name="slotBytes"/> bytes.</summary>
    public ExactTable(Chain chain, long slotBytes, int slots)
    {
        int L = chain.Length;
        _length = L;
        CheckWork(L, slots);
        _stride = Stride(slots);
        _pairs = Pairs.Count(L + 1);
        _sizes = new Sizes(chain, slotBytes);
        // Every cell is written before it is read. Pinned, so that the rows can start on a cache line and be written past
        // the cache (a row's block is read again only by later groups, long after).
        _rows = GC.AllocateUninitializedArray<float>(_pairs * _stride + 16, pinned: true);
        _origin = Aligned(_rows);
        HugePages.Advise(_rows);
        var loss = Row(L + 1, L + 1);
        long need = _sizes.LossNeed(Holding.Plain);
        for (int m = 0; m < _stride; m++)
            loss[m] = m >= need ? 0 : float.PositiveInfinity;
        _ends = new float[_stride / Width * _pairs + 8]; // padded for the checks' last vector
        for (int block = 0; block < _stride / Width; block++)
            _ends[block * _pairs + Pairs.Index(L + 1, L + 1)] = loss[block * Width + Width - 1];
        Sweep();
    }

    /// <summary>The least time of the whole chain with <paramref name="memory"/> slots, x0 included; infinity if none fits.</summary>
    public float Time(int memory) => Row(1, _length + 1)[memory];

    private Span<float> Row(int s, int t) => _rows.AsSpan(_origin + Pairs.Index(s, t) * _stride, _stride);

    /// <summary>The rows from their first float.</summary>
    private ref float Rows => ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_rows), _origin);

    /// <summary>
    /// The memory of the plain row that holds the time of s..t holding its input in a record at <paramref name="memory"/>,
    /// or -1 where none fits. Holding x_{s-1} in a record rather than plain takes a_{s-1} off the interval's own items
    /// until B(s), after which both hold d_{s-1} alone: every schedule of the family (no part consumes its input) runs
    /// the same in both, with every peak but that last one a_{s-1} lower in the record (docs/planners.md).
    /// </summary>
    private long Record(int s, long memory)
    {
        long input = _sizes.Input(s);
        return memory < input ? -1 : memory + input;
    }

    /// <summary>The offset, in floats, of the first cache line of a pinned array.</summary>
    private static unsafe int Aligned(float[] pinned) => (int)((64 - (nint)Unsafe.AsPointer(ref pinned[0]) % 64) % 64 / sizeof(float));

    private int Offset(int s, int t) => Pairs.Index(s, t) * _stride;

    /// <summary>The groups of starts, from the end of the chain, spread over the cores; each waits for the one before it.</summary>
    private void Sweep()
    {
        int groups = (_length + Group - 1) / Group;
        var done = new long[groups]; // per group: blocks * (L + 2) + columns finished
        int workers = Math.Clamp(Environment.ProcessorCount, 1, groups);
        var threads = new Thread[workers - 1];
        Exception? failure = null;
        void Work(int worker)
        {
            try
            {
                for (int g = worker; g < groups; g += workers)
                    RunGroup(g, done);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                for (int g = 0; g < groups; g++) // release the groups that wait
                    Volatile.Write(ref done[g], long.MaxValue);
            }
        }
        for (int w = 1; w < workers; w++)
        {
            int worker = w;
            threads[w - 1] = new Thread(() => Work(worker)) { IsBackground = true };
            threads[w - 1].Start();
        }
        Work(0);
        foreach (var thread in threads)
            thread.Join();
        if (failure is not null)
            throw failure;
    }

    /// <summary>Group g, the starts hi - Group + 1 .. hi counted from the end of the chain: every block, every end, every start.</summary>
    private void RunGroup(int g, long[] done)
    {
        int L = _length, hi = L - g * Group, lo = Math.Max(1, hi - Group + 1);
        // The advance's needs by start and checkpoint, less the interval's own memory, which only the end changes.
        var advance = new long[hi - lo + 1][];
        var forward = new float[hi - lo + 1][];
        for (int s = lo; s <= hi; s++)
        {
            var row = advance[s - lo] = new long[L + 2];
            var cost = forward[s - lo] = new float[L + 2 + 8]; // padded for the checks' last vector
            long need = 0;
            for (int j = s + 1; j <= L + 1; j++)
            {
                row[j] = need = Math.Max(need, _sizes.ForwardPeak(Holding.Record, s, j - 1, L, top: true));
                cost[j] = _sizes.ForwardTime(s, j - 1);
            }
        }
        // The group's own rows at the current block, by start and end: the left parts, read in the order they lie.
        var lefts = new float[(hi - lo + 1) * (L + 2) * Width];
        var leftEnds = new float[(hi - lo + 1) * (L + 2) + 8]; // the same rows at the block's last memory, padded for the checks
        var seeds = new int[(hi - lo + 1) * (L + 2)];
        var records = new RecordMove[(hi - lo + 1) * (L + 2)]; // by start and end
        for (int s = lo; s <= hi; s++)
            for (int t = s; t <= L + 1; t++)
                records[(s - lo) * (L + 2) + t] = RecordMoveOf(s, t);
        var spin = new SpinWait();
        for (int m0 = 0, block = 0; m0 < _stride; m0 += Width, block++)
            for (int t = lo; t <= L + 1; t++)
            {
                long step = (long)block * (L + 2) + t;
                if (g > 0)
                    while (Volatile.Read(ref done[g - 1]) < step)
                        spin.SpinOnce(); // the right parts of later starts
                for (int s = Math.Min(hi, t); s >= lo; s--)
                {
                    int at = (s - lo) * (L + 2) + t;
                    Interval(s, t, block, advance[s - lo], forward[s - lo], lefts, leftEnds, (s - lo) * (L + 2), ref seeds[at], records[at]);
                }
                // The rows went past the cache (Stream): non-temporal stores are not ordered with later stores, so
                // they are fenced before the next group may read them.
                if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
                    System.Runtime.Intrinsics.X86.Sse.StoreFence();
                else
                    Interlocked.MemoryBarrier();
                Volatile.Write(ref done[g], step);
            }
    }

    /// <summary>One block of memories m0 .. m0 + Width - 1 of s..t.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Interval(int s, int t, int block, long[] advance, float[] forward, float[] lefts, float[] leftEnds, int leftRow, ref int seed,
        in RecordMove record)
    {
        int m0 = block * Width, leftAt = leftRow * Width;
        int L = _length;
        bool top = t == L + 1;
        int end = top ? L : t;
        Quad best = new(Vector256.Create(float.PositiveInfinity));
        if (s < t)
        {
            // The checkpoints: x_{j-1} stored by the advance, the right part j..t holding it plain at the memory less
            // the input x_{s-1}, then the left part s..j-1 at the interval's own.
            long own = _sizes.Own(Holding.Plain, s, end, top), input = _sizes.Input(s);
            ref float left = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(lefts), leftAt);
            int j = s + 1;
            // Where the advance fits the whole block: the hot loop, its sums in registers. A checkpoint is skipped where
            // its time at the block's last memory, its least in the block, is no less than the best time so far at the
            // block's first memory, the block's greatest (rows never increase): it cannot lower any memory of the
            // block, and ties, which uniform chains are full of, cost nothing.
            {
                long limit = m0 - own;
                ref float right = ref Unsafe.Add(ref Rows, Offset(j, t) + m0 - (nint)input);
                ref float lp = ref Unsafe.Add(ref left, (j - 1) * Width);
                // The checkpoint that was fastest at the last block's end goes first; the best time at the block's
                // first memory then bounds the others.
                float last = float.PositiveInfinity;
                if (seed >= j && seed <= t && advance[seed] <= limit)
                {
                    nint k = seed - j;
                    best.Min(Vector256.Create(forward[seed]), ref Unsafe.Add(ref right, k * _stride), ref Unsafe.Add(ref lp, k * Width), 0);
                    last = best.Last;
                }
                float upper = best.First;
                int first = j;
                // The checks read the rows' block ends, which lie together: the right part of the checkpoint, shifted, at
                // the end of the block that the block's last memory falls in (which is no more), and the left part at
                // the block's last memory.
                ref float rightEnd = ref _ends[(int)Math.Max(0, (m0 + Width - 1 - input) / Width) * _pairs + Pairs.Index(first, t)];
                ref float leftEnd = ref leftEnds[leftRow + first - 1];
                while (j <= t && advance[j] <= limit)
                    j++; // the needs only grow with j
                ref float cost = ref forward[first];
                for (int k0 = 0; k0 < j - first; k0 += 8)
                {
                    // Eight checkpoints' least times at once (the arrays are padded past their last one).
                    var least = Vector256.LoadUnsafe(ref cost, (nuint)k0) + Vector256.LoadUnsafe(ref rightEnd, (nuint)k0)
                        + Vector256.LoadUnsafe(ref leftEnd, (nuint)k0);
                    uint candidates = Vector256.LessThan(least, Vector256.Create(upper)).ExtractMostSignificantBits();
                    candidates &= (1u << Math.Min(8, j - first - k0)) - 1;
                    for (; candidates != 0; candidates &= candidates - 1)
                    {
                        int i = System.Numerics.BitOperations.TrailingZeroCount(candidates);
                        nint k = k0 + i;
                        float l0 = least.GetElement(i);
                        if (l0 >= upper)
                            continue;
                        if (l0 < last)
                            (last, seed) = (l0, first + (int)k);
                        best.Min(Vector256.Create(Unsafe.Add(ref cost, k)), ref Unsafe.Add(ref right, k * _stride), ref Unsafe.Add(ref lp, k * Width), 0);
                        upper = Math.Min(upper, best.First);
                    }
                }
            }
            for (; j <= t; j++)
            {
                long need = own + advance[j];
                if (need >= m0 + Width)
                    break; // the needs only grow with j
                best.Min(Vector256.Create(forward[j]), ref Unsafe.Add(ref Rows, Offset(j, t) + m0 - (nint)input), ref Unsafe.Add(ref left, (j - 1) * Width), need - m0);
            }
        }
        if (record.Need < m0 + Width)
        {
            var cost = Vector256.Create(record.Cost);
            if (!record.Rest)
                best.Min(cost, record.Need - m0);
            else
                best.Min(cost, ref Unsafe.Add(ref Rows, record.At + m0), record.Need - m0);
        }
        best.Stream(ref Unsafe.Add(ref Rows, Offset(s, t) + m0));
        best.Store(lefts, leftAt + t * Width);
        _ends[block * _pairs + Pairs.Index(s, t)] = leftEnds[leftRow + t] = best.Last;
    }

    /// <summary>
    /// The move that records stage s (<see cref="Move.Record"/>), reduced to what a block needs: its time, its need,
    /// and, where a rest s+1..t follows (holding x_s in the record), the offset of the plain row that holds it, shifted
    /// to its caller's memory. The need covers the rest's a_s (<see cref="Record(int, long)"/>): d_s is stored after it.
    /// </summary>
    private readonly record struct RecordMove(float Cost, long Need, bool Rest, nint At);

    /// <summary>The move that records stage s of s..t, holding its input plain.</summary>
    private RecordMove RecordMoveOf(int s, int t)
    {
        bool top = t == _length + 1;
        var c = _sizes.Record(Holding.Plain, s, top ? _length : t, top);
        return c.First is { } rest
            ? new(c.Cost, c.Need, true, Offset(rest.S, t) - (nint)rest.Shift + (nint)_sizes.Input(rest.S))
            : new(c.Cost, c.Need, false, 0);
    }

    /// <summary>
    /// Four vectors of memories: a block of a row while it is computed. Minima are the processor's own (no time is NaN,
    /// and none is negative, so they agree with IEEE's).
    /// </summary>
    private struct Quad(Vector256<float> v)
    {
        private Vector256<float> _0 = v, _1 = v, _2 = v, _3 = v;

        /// <summary>Lanes below <paramref name="from"/> (relative to the block) become infinite.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Mask(long from)
        {
            if (from <= 0)
                return;
            var inf = Vector256.Create(float.PositiveInfinity);
            var f = Vector256.Create((int)Math.Min(from, Width));
            _0 = Vector256.ConditionalSelect(Vector256.LessThan(Lanes0, f).AsSingle(), inf, _0);
            _1 = Vector256.ConditionalSelect(Vector256.LessThan(Lanes1, f).AsSingle(), inf, _1);
            _2 = Vector256.ConditionalSelect(Vector256.LessThan(Lanes2, f).AsSingle(), inf, _2);
            _3 = Vector256.ConditionalSelect(Vector256.LessThan(Lanes3, f).AsSingle(), inf, _3);
        }

        /// <summary>this = min(this, c + a + b) from lane <paramref name="from"/> on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Min(Vector256<float> c, ref float a, ref float b, long from)
        {
            if (from <= 0)
            {
                _0 = Vector256.MinNative(_0, c + Vector256.LoadUnsafe(ref a) + Vector256.LoadUnsafe(ref b));
                _1 = Vector256.MinNative(_1, c + Vector256.LoadUnsafe(ref a, 8) + Vector256.LoadUnsafe(ref b, 8));
                _2 = Vector256.MinNative(_2, c + Vector256.LoadUnsafe(ref a, 16) + Vector256.LoadUnsafe(ref b, 16));
                _3 = Vector256.MinNative(_3, c + Vector256.LoadUnsafe(ref a, 24) + Vector256.LoadUnsafe(ref b, 24));
                return;
            }
            var v = new Quad(c);
            v.Add(ref a);
            v.Add(ref b);
            v.Mask(from);
            Min(v);
        }

        /// <summary>this = min(this, c + a) from lane <paramref name="from"/> on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Min(Vector256<float> c, ref float a, long from)
        {
            if (from <= 0)
            {
                _0 = Vector256.MinNative(_0, c + Vector256.LoadUnsafe(ref a));
                _1 = Vector256.MinNative(_1, c + Vector256.LoadUnsafe(ref a, 8));
                _2 = Vector256.MinNative(_2, c + Vector256.LoadUnsafe(ref a, 16));
                _3 = Vector256.MinNative(_3, c + Vector256.LoadUnsafe(ref a, 24));
                return;
            }
            var v = new Quad(c);
            v.Add(ref a);
            v.Mask(from);
            Min(v);
        }

        /// <summary>this = min(this, c) from lane <paramref name="from"/> on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Min(Vector256<float> c, long from)
        {
            var v = new Quad(c);
            v.Mask(from);
            Min(v);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Add(ref float a)
        {
            _0 += Vector256.LoadUnsafe(ref a);
            _1 += Vector256.LoadUnsafe(ref a, 8);
            _2 += Vector256.LoadUnsafe(ref a, 16);
            _3 += Vector256.LoadUnsafe(ref a, 24);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Min(in Quad v)
        {
            _0 = Vector256.MinNative(_0, v._0);
            _1 = Vector256.MinNative(_1, v._1);
            _2 = Vector256.MinNative(_2, v._2);
            _3 = Vector256.MinNative(_3, v._3);
        }

        /// <summary>Writes the block past the cache to <paramref name="at"/>, a pinned float on a 32-byte boundary.</summary>
        public readonly unsafe void Stream(ref float at)
        {
            float* p = (float*)Unsafe.AsPointer(ref at);
            Vector256.StoreAlignedNonTemporal(_0, p);
            Vector256.StoreAlignedNonTemporal(_1, p + 8);
            Vector256.StoreAlignedNonTemporal(_2, p + 16);
            Vector256.StoreAlignedNonTemporal(_3, p + 24);
        }

        /// <summary>The block's first memory.</summary>
        public readonly float First => _0.ToScalar();

        /// <summary>The block's last memory.</summary>
        public readonly float Last => _3.GetElement(7);

        public readonly void Store(float[] row, int at)
        {
            ref float b = ref MemoryMarshal.GetArrayDataReference(row);
            _0.StoreUnsafe(ref b, (nuint)at);
            _1.StoreUnsafe(ref b, (nuint)(at + 8));
            _2.StoreUnsafe(ref b, (nuint)(at + 16));
            _3.StoreUnsafe(ref b, (nuint)(at + 24));
        }
    }

    /// <summary>The fastest candidate at memory m, timed as the table times it (cost, then the first part, then the second).</summary>
    public Candidate Choose(Holding holding, int s, int down, int t, bool top, long memory)
    {
        Candidate best = default;
        float bestTime = float.PositiveInfinity;
        foreach (var c in _sizes.Candidates(holding, s, s, t, top))
        {
            if (memory < c.Need)
                continue;
            float time = c.Cost;
            if (c.First is { } first)
                time += Read(first, memory);
            if (c.Second is { } second)
                time += Read(second, memory);
            if (time < bestTime)
                (bestTime, best) = (time, c);
        }
        return best;
    }

    private float Read(Part part, long memory)
    {
        long m = memory - part.Shift;
        if (part.Holding == Holding.Record)
            m = Record(part.S, m);
        return m < 0 ? float.PositiveInfinity : Row(part.S, part.Top ? _length + 1 : part.T)[(int)m];
    }
}
