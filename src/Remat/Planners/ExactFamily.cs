namespace Remat.Planners;

/// <summary>
/// The family of schedules of Remat's exact program: rotor's family (Beaumont et al. 2019; its program, in
/// tests/Reference, is the baseline the tests and benchmarks hold this one to) with the move it lacks, "consume a plain
/// checkpoint with the last advance from it" (<c>Fn(s)</c>, the stages before the consumer's stop left to its caller),
/// and with the way each interval holds its input made part of the state. An interval s..t (d_t held, or before the
/// loss for the top interval s..L) holds x_{s-1} in one of two ways (<see cref="Holding"/>), runs its backward down to
/// a stage (<see cref="Part.Down"/>), and is processed by one of three moves (<see cref="Move"/>). "Record a stage,
/// then drop its plain input" (<c>Fe(s) Fn(s)</c>) is not in it: the record holds that input until B(s)
/// (docs/model.md), so the move frees nothing. The recurrence is in docs/planners.md.
/// </summary>
internal static class ExactFamily
{
    /// <summary>How an interval holds its input x_{s-1}.</summary>
    internal enum Holding : byte
    {
        /// <summary>Plain, owned by the interval: B(s) frees it.</summary>
        Plain,
        /// <summary>Inside the record x̄_{s-1}, which the caller frees with B(s-1).</summary>
        Record,
    }

    /// <summary>How an interval is processed.</summary>
    internal enum Move : byte
    {
        /// <summary>Fe(s), the rest with x_s in the record, B(s) (rotor's "record").</summary>
        Record,
        /// <summary>Advance to a plain x_{j-1} (Fck(s), then Fn), the right part j..t down to i, then s..i-1.</summary>
        Checkpoint,
        /// <summary>Fn(s) drops the plain input, owned by an interval that runs its backward only down to a later stage; then the rest from x_s.</summary>
        Consume,
    }

    /// <summary>
    /// A sub-interval run inside a move: s..t runs the backward of stages t .. <see cref="Down"/> (s, unless it consumes
    /// its plain input x_{s-1} and leaves stages s .. Down-1 to its caller); <see cref="Shift"/> is the memory its
    /// caller holds beyond the sub-interval's own.
    /// </summary>
    internal readonly record struct Part(Holding Holding, int S, int Down, int T, bool Top, long Shift);

    /// <summary>
    /// One way to process an interval: its extra time (the operations outside its parts), the memory its own
    /// operations need, and up to two parts run in order (the second only for <see cref="Move.Checkpoint"/>).
    /// </summary>
    internal readonly record struct Candidate(Move Move, int J, float Cost, long Need, Part? First, Part? Second);

    /// <summary>
    /// The sizes in the unit of a program, each rounded up to whole units. Live memory is always the sum of the
    /// rounded sizes of what is stored (an operation frees what it stored), so it never falls below the exact bytes
    /// and no rounding accumulates along a forward sweep.
    /// </summary>
    internal sealed class Sizes
    {
        private readonly long[] _a, _abar, _ftmp, _btmp;
        private readonly float[] _f, _b;
        private readonly double[] _prefixF, _prefixB;

        /// <summary>Sizes in whole units of <paramref name="unit"/> bytes (1: exact bytes).</summary>
        public Sizes(Chain chain, long unit)
        {
            int L = chain.Length;
            Length = L;
            long Up(long x) => (x + unit - 1) / unit;
            _a = new long[L + 1];
            _abar = new long[L + 1];
            _ftmp = new long[L + 1];
            _btmp = new long[L + 1];
            _f = new float[L + 1];
            _b = new float[L + 1];
            _prefixF = new double[L + 1];
            _prefixB = new double[L + 1];
            for (int k = 0; k <= L; k++)
            {
                _a[k] = Up(chain.OutputBytes(k));
                    if (k == 0)
                    continue;
                _abar[k] = Up(chain[k].SavedBytes);
                _ftmp[k] = Up(chain[k].ForwardTempBytes);
                _btmp[k] = Up(chain[k].BackwardTempBytes);
                _f[k] = (float)chain[k].ForwardTime;
                _b[k] = (float)chain[k].BackwardTime;
                _prefixF[k] = _prefixF[k - 1] + chain[k].ForwardTime;
                _prefixB[k] = _prefixB[k - 1] + chain[k].BackwardTime;
            }
        }

        /// <summary>The number of stages.</summary>
        public int Length { get; }

        /// <summary>The size of stage s's input, x_{s-1}.</summary>
        public long Input(int s) => _a[s - 1];

        /// <summary>What an interval holds of its own when it starts: its input (unless in a record) and d_t.</summary>
        public long Own(Holding holding, int s, int t, bool top) =>
            (holding == Holding.Record ? 0 : _a[s - 1]) + (top ? 0 : _a[t]);

        /// <summary>
        /// The candidates for s..t (s..L and the loss when <paramref name="top"/>) holding its input as
        /// <paramref name="holding"/> and running its backward down to stage <paramref name="down"/> (s, or later where
        /// it consumes its plain input). With <paramref name="consuming"/> false, only the family of the table
        /// (<see cref="ExactTable"/>): no part consumes its input. Memory is the interval's live memory, its own items
        /// included, so a part's memory is its caller's minus <see cref="Part.Shift"/>. Each operation's peak counts
        /// its transient memory and the memory after it, as the simulator does.
        /// </summary>
        public IEnumerable<Candidate> Candidates(Holding holding, int s, int down, int t, bool top, bool consuming = false)
        {
            long start = Own(holding, s, t, top);
            if (down > s)
            {
                // Consume: Fn(s) drops x_{s-1} (never x0: no part consumes it); the rest runs from x_s down to the same stage.
                long cur = start + _a[s] - _a[s - 1], need = Math.Max(start, start + _a[s] + _ftmp[s]);
                var (part, _) = Enter(Holding.Plain, s + 1, down, t, top, cur);
                yield return new Candidate(Move.Consume, 0, _f[s], need, part, null);
            }
            else
                yield return Record(holding, s, t, top);
            // Checkpoint x_{j-1}: advance from x_{s-1}, then the right part j..t holding x_{j-1} plain down to i (j, or
            // later where it consumes x_{j-1}), then the left part s..i-1, which keeps the input's holding and the
            // interval's own end.
            {
                long need = start;
                int last = top ? Length + 1 : t;
                for (int j = s + 1; j <= last; j++)
                {
                    int k = j - 1; // the forward that stores x_{j-1}
                    need = Math.Max(need, ForwardPeak(holding, s, k, t, top));
                    long cur = start + _a[k];
                    for (int i = Math.Max(j, down + 1); i <= (consuming ? last : j); i++)
                    {
                        var (right, afterRight) = Enter(Holding.Plain, j, i, t, top, cur);
                        var (leftPart, _) = Enter(holding, s, down, i - 1, false, afterRight);
                        yield return new Candidate(Move.Checkpoint, j, ForwardTime(s, k), need, right, leftPart);
                    }
                }
            }
        }

        /// <summary>
        /// The peak of the forward that stores x_k while s..t advances from its input (Fck(s), then Fn(s+1) .. Fn(k)):
        /// the live memory before it, x_k and its temporary.
        /// </summary>
        public long ForwardPeak(Holding holding, int s, int k, int t, bool top) =>
            Own(holding, s, t, top) + (k > s ? _a[k - 1] : 0) + _a[k] + _ftmp[k];

        /// <summary>Record: Fe(s), the rest holding x_s in the record, B(s) (which frees a plain input).</summary>
        public Candidate Record(Holding holding, int s, int t, bool top)
        {
            long start = Own(holding, s, t, top);
            long cur = start + _abar[s], need = Math.Max(start, cur + _ftmp[s]);
            Part? part = null;
            if (s < t || top)
                (part, cur) = Enter(Holding.Record, s + 1, s + 1, t, top, cur);
            return new Candidate(Move.Record, 0, _f[s] + _b[s], Backward(s, cur, need, holding != Holding.Record), part, null);
        }

        /// <summary>A part entered at live memory <paramref name="cur"/>, and the caller's live memory after it (d_{down-1} replaces what the part held).</summary>
        private (Part Part, long After) Enter(Holding holding, int s, int down, int t, bool top, long cur)
        {
            long shift = cur - Own(holding, s, t, top);
            return (new Part(holding, s, down, t, top, shift), shift + _a[down - 1]);
        }

        /// <summary>
        /// The need of a move once B(s) has run at live memory <paramref name="cur"/>: frees x̄_s and d_s, stores d_{s-1},
        /// and frees a plain x_{s-1} where it is stored.
        /// </summary>
        private long Backward(int s, long cur, long need, bool freesInput)
        {
            need = Math.Max(need, cur + _btmp[s]);
            long after = cur - _abar[s] - _a[s] + _a[s - 1] - (freesInput ? _a[s - 1] : 0);
            return Math.Max(need, after);
        }

        /// <summary>The need of the loss for the top interval s = L + 1: stores d_L, frees a plain x_L.</summary>
        public long LossNeed(Holding holding) => Own(holding, Length + 1, Length, true) + _a[Length];

        /// <summary>The time of the forwards of stages s .. end.</summary>
        public float ForwardTime(int s, int end) => (float)(_prefixF[end] - _prefixF[s - 1]);

        /// <summary>The least time of a part at any memory: one forward of each of its stages and the backwards it runs.</summary>
        public double LeastTime(Part part)
        {
            int end = part.Top ? Length : part.T;
            return _prefixF[end] - _prefixF[part.S - 1] + _prefixB[end] - _prefixB[Math.Min(part.Down, end + 1) - 1];
        }
    }

    /// <summary>Picks the move for an interval at a memory.</summary>
    internal interface IChooser
    {
        /// <summary>The candidate to run for the interval at <paramref name="memory"/>.</summary>
        Candidate Choose(Holding holding, int s, int down, int t, bool top, long memory);
    }

    /// <summary>The whole schedule: the top interval 1..L holding x0 plain, at <paramref name="memory"/>.</summary>
    public static Schedule Emit(string strategy, int length, IChooser chooser, long memory)
    {
        var ops = new List<Op>(4 * length);
        Emit(ops, length, chooser, Holding.Plain, 1, 1, length, true, memory);
        return new Schedule(strategy, ops);
    }

    private static void Emit(List<Op> ops, int length, IChooser chooser, Holding holding, int s, int down, int t, bool top, long memory)
    {
        if (top && s == length + 1)
        {
            ops.Add(Op.Loss);
            return;
        }
        var c = chooser.Choose(holding, s, down, t, top, memory);
        switch (c.Move)
        {
            case Move.Record:
                ops.Add(Op.Fe(s));
                if (c.First is { } part)
                    Emit(ops, length, chooser, part, memory);
                ops.Add(Op.B(s));
                break;
            case Move.Checkpoint:
                ops.Add(Op.Fck(s));
                for (int k = s + 1; k < c.J; k++)
                    ops.Add(Op.Fn(k));
                Emit(ops, length, chooser, c.First!.Value, memory);
                Emit(ops, length, chooser, c.Second!.Value, memory);
                break;
            case Move.Consume:
                ops.Add(Op.Fn(s));
                Emit(ops, length, chooser, c.First!.Value, memory);
                break;
        }
    }

    private static void Emit(List<Op> ops, int length, IChooser chooser, Part part, long memory) =>
        Emit(ops, length, chooser, part.Holding, part.S, part.Down, part.T, part.Top, memory - part.Shift);
}
