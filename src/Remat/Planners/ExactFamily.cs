namespace Remat.Planners;

/// <summary>
/// The family of schedules of Remat's exact program: rotor's family (<see cref="RotorFamily"/>) with the move it
/// lacks, "record a stage, then drop its plain input" (<c>Fe(s) Fn(s)</c>), and with the way each interval holds its
/// input made part of the state. An interval s..t (d_t held, or before the loss for the top interval s..L) holds
/// x_{s-1} in one of three ways (<see cref="Holding"/>), and is processed by one of three moves (<see cref="Move"/>).
/// The recurrence and why it reaches every schedule's optimum are in docs/planners.md.
/// </summary>
internal static class ExactFamily
{
    /// <summary>How an interval holds its input x_{s-1}.</summary>
    internal enum Holding : byte
    {
        /// <summary>Plain, owned by the interval: B(s) frees it, and after Fe(s) an Fn(s) may drop it.</summary>
        Plain,
        /// <summary>Inside the record x̄_{s-1}, which the caller frees with B(s-1).</summary>
        Record,
        /// <summary>Inside the caller's record, and a plain copy the interval owns (left by Fe(s-1) Fn(s-1)).</summary>
        Both,
    }

    /// <summary>How an interval is processed.</summary>
    internal enum Move : byte
    {
        /// <summary>Fe(s), the rest with x_s in the record, B(s) (rotor's "record").</summary>
        Record,
        /// <summary>Fe(s), Fn(s) to drop the plain x_{s-1}, the rest holding x_s both ways, B(s).</summary>
        RecordAndDrop,
        /// <summary>Advance to a plain x_{j-1} (Fck(s) or, dropping the plain copy, Fn(s); then Fn), the right part j..t, then s..j-1.</summary>
        Checkpoint,
    }

    /// <summary>A sub-interval run inside a move: <see cref="Shift"/> is the memory its caller holds beyond the sub-interval's own.</summary>
    internal readonly record struct Part(Holding Holding, int S, int T, bool Top, long Shift);

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
        private readonly double[] _prefixF;

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
            }
        }

        /// <summary>The number of stages.</summary>
        public int Length { get; }

        /// <summary>What an interval holds of its own when it starts: its input (unless in a record) and d_t.</summary>
        public long Own(Holding holding, int s, int t, bool top) =>
            (holding == Holding.Record ? 0 : _a[s - 1]) + (top ? 0 : _a[t]);

        /// <summary>
        /// The candidates for s..t (s..L and the loss when <paramref name="top"/>) holding its input as
        /// <paramref name="holding"/>. Memory is the interval's live memory, its own items included, so a part's
        /// memory is its caller's minus <see cref="Part.Shift"/>. Each operation's peak counts its transient memory
        /// and the memory after it, as the simulator does.
        /// </summary>
        public IEnumerable<Candidate> Candidates(Holding holding, int s, int t, bool top)
        {
            long start = Own(holding, s, t, top);
            bool plainInput = holding != Holding.Record;
            bool rest = s < t || top; // something follows stage s
            // Record: Fe(s), the rest holding x_s in the record, B(s) (which frees a plain input).
            {
                long cur = start + _abar[s], need = Math.Max(start, cur + _ftmp[s]);
                Part? part = null;
                if (rest)
                    (part, cur) = Enter(Holding.Record, s + 1, t, top, cur);
                yield return new Candidate(Move.Record, 0, _f[s] + _b[s], Backward(s, cur, need, plainInput), part, null);
            }
            // Record and drop: Fe(s), Fn(s) frees the plain input (never x0), the rest holds x_s both ways, B(s).
            if (rest && plainInput && s > 1)
            {
                long cur = start + _abar[s], need = Math.Max(start, cur + _ftmp[s]);
                need = Math.Max(need, cur + _a[s] + _ftmp[s]);
                cur += _a[s] - _a[s - 1];
                (var part, cur) = Enter(Holding.Both, s + 1, t, top, cur);
                yield return new Candidate(Move.RecordAndDrop, 0, 2 * _f[s] + _b[s], Backward(s, cur, need, false), part, null);
            }
            // Checkpoint x_{j-1}: advance from x_{s-1} (Fn(s) drops a plain copy the record makes useless), then the
            // right part j..t holding x_{j-1} plain, then the left part s..j-1, which keeps the input's holding.
            {
                long cur = start, need = start;
                var left = holding == Holding.Plain ? Holding.Plain : Holding.Record;
                int last = top ? Length + 1 : t;
                for (int j = s + 1; j <= last; j++)
                {
                    int k = j - 1; // the forward that stores x_{j-1}
                    need = Math.Max(need, cur + _a[k] + _ftmp[k]);
                    if (k > s)
                        cur += _a[k] - _a[k - 1];
                    else
                        cur += _a[k] - (holding == Holding.Both ? _a[k - 1] : 0);
                    var (right, afterRight) = Enter(Holding.Plain, j, t, top, cur);
                    var (leftPart, _) = Enter(left, s, k, false, afterRight);
                    yield return new Candidate(Move.Checkpoint, j, ForwardTime(s, k), need, right, leftPart);
                }
            }
        }

        /// <summary>A part entered at live memory <paramref name="cur"/>, and the caller's live memory after it (d_{s-1} replaces what the part held).</summary>
        private (Part Part, long After) Enter(Holding holding, int s, int t, bool top, long cur)
        {
            long shift = cur - Own(holding, s, t, top);
            return (new Part(holding, s, t, top, shift), shift + _a[s - 1]);
        }

        /// <summary>The need of a move once B(s) has run at live memory <paramref name="cur"/>: frees x̄_s and d_s, stores d_{s-1}.</summary>
        private long Backward(int s, long cur, long need, bool freesInput)
        {
            need = Math.Max(need, cur + _btmp[s]);
            long after = cur - _abar[s] - _a[s] + _a[s - 1] - (freesInput ? _a[s - 1] : 0);
            return Math.Max(need, after);
        }

        /// <summary>The need of the loss for the top interval s = L + 1: stores d_L, frees a plain x_L.</summary>
        public long LossNeed(Holding holding) => Own(holding, Length + 1, Length, true) + _a[Length];

        private float ForwardTime(int s, int end) => (float)(_prefixF[end] - _prefixF[s - 1]);
    }

    /// <summary>Picks the move for an interval at a memory.</summary>
    internal interface IChooser
    {
        /// <summary>The candidate to run for the interval at <paramref name="memory"/>.</summary>
        Candidate Choose(Holding holding, int s, int t, bool top, long memory);
    }

    /// <summary>The whole schedule: the top interval 1..L holding x0 plain, at <paramref name="memory"/>.</summary>
    public static Schedule Emit(string strategy, int length, IChooser chooser, long memory)
    {
        var ops = new List<Op>(4 * length);
        Emit(ops, length, chooser, Holding.Plain, 1, length, true, memory);
        return new Schedule(strategy, ops);
    }

    private static void Emit(List<Op> ops, int length, IChooser chooser, Holding holding, int s, int t, bool top, long memory)
    {
        if (top && s == length + 1)
        {
            ops.Add(Op.Loss);
            return;
        }
        var c = chooser.Choose(holding, s, t, top, memory);
        switch (c.Move)
        {
            case Move.Record or Move.RecordAndDrop:
                ops.Add(Op.Fe(s));
                if (c.Move == Move.RecordAndDrop)
                    ops.Add(Op.Fn(s));
                if (c.First is { } part)
                    Emit(ops, length, chooser, part, memory);
                ops.Add(Op.B(s));
                break;
            case Move.Checkpoint:
                ops.Add(holding == Holding.Both ? Op.Fn(s) : Op.Fck(s));
                for (int k = s + 1; k < c.J; k++)
                    ops.Add(Op.Fn(k));
                Emit(ops, length, chooser, c.First!.Value, memory);
                Emit(ops, length, chooser, c.Second!.Value, memory);
                break;
        }
    }

    private static void Emit(List<Op> ops, int length, IChooser chooser, Part part, long memory) =>
        Emit(ops, length, chooser, part.Holding, part.S, part.T, part.Top, memory - part.Shift);
}
