namespace Remat.Planners;

/// <summary>
/// Binomial checkpointing (Griewank 1992; Griewank and Walther 2000, "Algorithm 799: revolve") with
/// <c>s</c> snapshots, the snapshot of x0 among them. It reaches the least number of forward steps for a
/// uniform chain: L + r*L - C(s+r, s+1), where r is the smallest integer with C(s+r, s) &gt;= L.
/// Snapshots are plain checkpoints; each stage is recorded (Fe) right before its backward.
/// </summary>
public sealed class Revolve : IPlanner
{
    private readonly int _snapshots;

    /// <summary>A planner with <paramref name="snapshots"/> snapshots (at least 1).</summary>
    public Revolve(int snapshots)
    {
        if (snapshots < 1)
            throw new ArgumentOutOfRangeException(nameof(snapshots), snapshots, "Revolve needs at least 1 snapshot (the one of x0).");
        _snapshots = snapshots;
    }

    /// <inheritdoc />
    public string Name => "revolve";

    /// <summary>The binomial optimum of forward operations for <paramref name="length"/> stages and <paramref name="snapshots"/> snapshots.</summary>
    public static long ForwardCount(int length, int snapshots)
    {
        int r = Repetitions(length, snapshots);
        return length + (long)r * length - Beta(snapshots + 1, r - 1);
    }

    /// <inheritdoc />
    public Schedule Plan(Chain chain)
    {
        int L = chain.Length, s = Math.Min(_snapshots, L);
        long count = ForwardCount(L, s) + L + 1;
        if (count > Array.MaxLength)
            throw new PlanningLimitException($"Revolve with {s} snapshots on {L} stages makes {count} operations, more than a schedule holds; give more snapshots.");
        var ops = new Ops(new Op[count]);
        Reverse(ops, 1, L, s, L);
        return new Schedule(Name, ops.Items);
    }

    /// <summary>
    /// Reverses stages start .. start+n-1 with x_{start-1} held as a snapshot and s snapshots in all,
    /// that one included. The loss runs right after the last stage is recorded.
    /// </summary>
    private static void Reverse(Ops ops, int start, int n, int s, int L)
    {
        while (true)
        {
            if (n == 1 || s == 1)
            {
                // No snapshot to spare: advance from x_{start-1} to each stage in turn, last first.
                for (int k = start + n - 1; k >= start; k--)
                {
                    Advance(ops, start, k - 1);
                    Record(ops, k, L);
                }
                return;
            }
            int m = Math.Clamp(Split(n, s), 1, n - 1);
            Advance(ops, start, start + m - 1);
            Reverse(ops, start + m, n - m, s - 1, L);
            n = m; // then the left part, with every snapshot free again
        }
    }

    /// <summary>Forward from x_{start-1} to x_end without recording, keeping x_{start-1}.</summary>
    private static void Advance(Ops ops, int start, int end)
    {
        if (end < start)
            return;
        ops.Add(Op.Fck(start));
        for (int k = start + 1; k <= end; k++)
            ops.Add(Op.Fn(k));
    }

    private static void Record(Ops ops, int k, int L)
    {
        ops.Add(Op.Fe(k));
        if (k == L)
            ops.Add(Op.Loss);
        ops.Add(Op.B(k));
    }

    /// <summary>An array filled in order; its size is known in advance from the closed form.</summary>
    private sealed class Ops(Op[] items)
    {
        private int _count;

        public Op[] Items => items;

        public void Add(Op op) => items[_count++] = op;
    }

    /// <summary>
    /// The number of steps to advance before the next snapshot: the rule of Griewank and Walther's
    /// Algorithm 799 (revolve), with beta(s, r) = C(s+r, s) and r the smallest with beta(s, r) &gt;= n.
    /// The binomials follow one another by exact steps such as C(n, k) * k / n = C(n-1, k-1).
    /// </summary>
    private static int Split(int n, int s)
    {
        long r = 0, range = 1; // range = beta(s, r)
        while (range < n)
        {
            r++;
            range = range * (s + r) / r;
        }
        long b1 = range * r / (s + r);                       // beta(s, r-1)
        long b2 = b1 * s / (s + r - 1);                      // beta(s-1, r-1)
        long b3 = s < 2 ? 0 : b2 * (s - 1) / (s + r - 2);    // beta(s-2, r-1)
        long b4 = b1 * (r - 1) / (s + r - 1);                // beta(s, r-2)
        long b5 = s < 3 ? 0 : b3 * (s - 2) / r;              // beta(s-3, r)
        if (n <= b1 + b3)
            return (int)b4;
        if (n >= range - b5)
            return (int)b1;
        return (int)(n - b2 - b3);
    }

    /// <summary>The smallest r with beta(s, r) &gt;= n.</summary>
    private static int Repetitions(int n, int s)
    {
        long r = 0, range = 1; // range = beta(s, r), exact: range * (s + r) stays below 2^63 while range < n
        while (range < n)
        {
            r++;
            range = range * (s + r) / r;
        }
        return (int)r;
    }

    /// <summary>beta(s, r) = C(s+r, s), 0 for negative arguments, saturating far above any chain length.</summary>
    internal static long Beta(int s, int r)
    {
        if (s < 0 || r < 0)
            return 0;
        const long cap = 1L << 40;
        long c = 1;
        for (int i = 1; i <= r && c < cap; i++)
            c = (long)((Int128)c * (s + i) / i); // C(s+i, i) = C(s+i-1, i-1) * (s+i) / i, exact at each step
        return Math.Min(c, cap);
    }
}
