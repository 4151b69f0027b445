using System.Buffers;

namespace Remat.Planners;

/// <summary>
/// The exact optimum over every valid schedule of the chain model: a shortest-path search (Dijkstra, A* on time)
/// over the states the operations reach, each state being what is stored (plain outputs, records,
/// the live gradient). A state's memory is known, so the budget is a rule on states and moves.
/// The state space grows as 4^L, so it takes short chains only.
/// </summary>
public sealed class ExhaustiveSearch(long budgetBytes) : IPlanner
{
    /// <summary>The longest chain it takes.</summary>
    public const int MaxStages = 8;

    /// <inheritdoc />
    public string Name => "exhaustive";

    /// <inheritdoc />
    public Schedule Plan(Chain chain) => Plan(chain, Name);

    internal Schedule Plan(Chain chain, string strategy)
    {
        var schedule = Search(chain, budgetBytes, minimizePeak: false);
        if (schedule is not null)
            return new Schedule(strategy, schedule.Ops);
        throw new InfeasibleBudgetException(strategy, budgetBytes, MinimumPeak(chain));
    }

    /// <summary>The least peak of any valid schedule: the smallest budget that can be met at all.</summary>
    public static long MinimumPeak(Chain chain) =>
        Simulator.Run(chain, Search(chain, long.MaxValue, minimizePeak: true)!).PeakBytes;

    /// <summary>
    /// Dijkstra from the start state to "every backward done". The cost is the time, or with
    /// <paramref name="minimizePeak"/> the largest peak so far (a bottleneck path).
    /// </summary>
    private static Schedule? Search(Chain chain, long budget, bool minimizePeak)
    {
        int L = chain.Length;
        if (L > MaxStages)
            throw new PlanningLimitException($"exhaustive search takes at most {MaxStages} stages, and the chain has {L}.");
        int plainBits = L + 1, recordBits = L;
        int stateCount = (L + 2) << (plainBits + recordBits);
        // The arrays take tens of MB at 8 stages, so they come from the shared pool (which trims them under memory pressure).
        var cost = ArrayPool<double>.Shared.Rent(stateCount);
        var from = ArrayPool<int>.Shared.Rent(stateCount);
        var via = ArrayPool<Op>.Shared.Rent(stateCount);
        var done = ArrayPool<bool>.Shared.Rent(stateCount);
        try
        {
            Array.Fill(cost, double.PositiveInfinity, 0, stateCount);
            Array.Clear(done, 0, stateCount);
            return Search(chain, budget, minimizePeak, cost, from, via, done);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(cost);
            ArrayPool<int>.Shared.Return(from);
            ArrayPool<Op>.Shared.Return(via);
            ArrayPool<bool>.Shared.Return(done);
        }
    }

    private static Schedule? Search(Chain chain, long budget, bool minimizePeak, double[] cost, int[] from, Op[] via, bool[] done)
    {
        int L = chain.Length;
        int plainBits = L + 1, recordBits = L;
        int Encode(int phase, int plain, int record) => (phase << (plainBits + recordBits)) | (plain << recordBits) | record;

        // A* on time: what is left costs at least the backward of every stage not done, and a recording forward of each
        // of them not recorded; a consistent bound, since an operation lowers it by at most its own time.
        double Remaining(int state)
        {
            int phase = Math.Min(L, state >> (plainBits + recordBits));
            double left = 0;
            for (int k = 1; k <= phase; k++)
                left += chain[k].BackwardTime + ((state >> (k - 1) & 1) == 0 ? chain[k].ForwardTime : 0);
            return left;
        }

        // phase: L+1 before the loss; k = L..1 while d_k is live and B(k) comes next; 0 when all is done.
        int start = Encode(L + 1, 1, 0);
        cost[start] = minimizePeak ? chain.InputBytes : 0;
        var queue = new PriorityQueue<int, double>();
        queue.Enqueue(start, cost[start]);
        while (queue.TryDequeue(out int state, out _))
        {
            if (done[state])
                continue;
            done[state] = true;
            int phase = state >> (plainBits + recordBits);
            int plain = (state >> recordBits) & ((1 << plainBits) - 1);
            int record = state & ((1 << recordBits) - 1);
            if (phase == 0)
                return Rebuild(start, state, from, via);
            long mem = 0;
            for (int j = 0; j <= L; j++)
                if ((plain >> j & 1) != 0) mem += chain.OutputBytes(j);
            for (int j = 1; j <= L; j++)
                if ((record >> (j - 1) & 1) != 0) mem += chain[j].SavedBytes;
            if (phase <= L)
                mem += chain.OutputBytes(phase);
            bool Has(int j) => (plain >> j & 1) != 0 || (j >= 1 && (record >> (j - 1) & 1) != 0);

            void Move(Op op, int next, long during, long after, double time)
            {
                long peak = Math.Max(during, after);
                if (peak > budget)
                    return;
                double c = minimizePeak ? Math.Max(cost[state], peak) : cost[state] + time;
                if (c < cost[next])
                {
                    cost[next] = c;
                    from[next] = state;
                    via[next] = op;
                    queue.Enqueue(next, minimizePeak ? c : c + Remaining(next));
                }
            }

            // Once B(p) is next, stages above p have run their backward: nothing they store could be read again, so
            // their forwards are left out, as is Fck(p), whose x_p B(p) frees unread (Fn(p) still drops x_{p-1}).
            for (int k = 1; k <= Math.Min(L, phase); k++)
            {
                if (!Has(k - 1))
                    continue;
                var s = chain[k];
                if ((plain >> k & 1) == 0)
                {
                    long during = mem + s.OutputBytes + s.ForwardTempBytes;
                    if (k < phase)
                        Move(Op.Fck(k), Encode(phase, plain | 1 << k, record), during, mem + s.OutputBytes, s.ForwardTime);
                    // Not while x̄_k is stored: the record holds x_{k-1} until B(k) (docs/model.md), so Fn(k) would free
                    // nothing and store an x_k the record already holds.
                    if (k > 1 && (plain >> (k - 1) & 1) != 0 && (record >> (k - 1) & 1) == 0)
                        Move(Op.Fn(k), Encode(phase, (plain | 1 << k) & ~(1 << (k - 1)), record), during,
                            mem + s.OutputBytes - chain.OutputBytes(k - 1), s.ForwardTime);
                }
                if ((record >> (k - 1) & 1) == 0)
                    Move(Op.Fe(k), Encode(phase, plain, record | 1 << (k - 1)), mem + s.SavedBytes + s.ForwardTempBytes,
                        mem + s.SavedBytes, s.ForwardTime);
            }
            if (phase == L + 1 && Has(L))
            {
                bool plainL = (plain >> L & 1) != 0;
                long aL = chain.OutputBytes(L);
                Move(Op.Loss, Encode(L, plain & ~(1 << L), record), mem + aL, mem + aL - (plainL ? aL : 0), 0);
            }
            if (phase >= 1 && phase <= L && (record >> (phase - 1) & 1) != 0)
            {
                int k = phase;
                var s = chain[k];
                bool plainPrev = (plain >> (k - 1) & 1) != 0, plainOwn = (plain >> k & 1) != 0;
                long after = mem - s.SavedBytes - s.OutputBytes + chain.OutputBytes(k - 1) - (plainPrev ? chain.OutputBytes(k - 1) : 0)
                             - (plainOwn ? s.OutputBytes : 0); // B(k) frees a plain x_k, which nothing can read any more
                Move(Op.B(k), Encode(k - 1, plain & ~(1 << (k - 1)) & ~(1 << k), record & ~(1 << (k - 1))), mem + s.BackwardTempBytes, after, s.BackwardTime);
            }
        }
        return null;
    }

    private static Schedule Rebuild(int start, int goal, int[] from, Op[] via)
    {
        var ops = new List<Op>();
        for (int s = goal; s != start; s = from[s])
            ops.Add(via[s]);
        ops.Reverse();
        return new Schedule("exhaustive", ops);
    }
}
