namespace Remat;

/// <summary>
/// The exact optimum over every valid schedule of a small graph: a shortest-path search (Dijkstra) over what is
/// stored (plain outputs, records, which backwards have run, whether the loss has), as
/// <see cref="Planners.ExhaustiveSearch"/> does for chains. The states grow as 8^N, so it takes graphs of up to
/// <see cref="MaxNodes"/> nodes; it is the reference the graph planners are tested against.
/// </summary>
public static class GraphSearch
{
    /// <summary>The largest graph it takes.</summary>
    public const int MaxNodes = 6;

    /// <summary>The fastest schedule within <paramref name="budgetBytes"/>, or null when none fits.</summary>
    public static Schedule? Plan(Graph graph, long budgetBytes) => Search(graph, budgetBytes, minimizePeak: false);

    /// <summary>The least peak of any valid schedule.</summary>
    public static long MinimumPeak(Graph graph) => GraphSimulator.Run(graph, Search(graph, long.MaxValue, minimizePeak: true)!).PeakBytes;

    private static Schedule? Search(Graph graph, long budget, bool minimizePeak)
    {
        int N = graph.Count;
        if (N > MaxNodes)
            throw new PlanningLimitException($"the exhaustive graph search takes at most {MaxNodes} stages, and the graph has {N}.");
        // Bits: plain x_0..x_N, then records x̄_1..x̄_N, then backwards done 1..N, then the loss.
        int recordShift = N + 1, doneShift = 2 * N + 1, lossBit = 3 * N + 1;
        bool Plain(long s, int v) => (s >> v & 1) != 0;
        bool Record(long s, int v) => v >= 1 && (s >> (recordShift + v - 1) & 1) != 0;
        bool Done(long s, int v) => (s >> (doneShift + v - 1) & 1) != 0;
        bool Loss(long s) => (s >> lossBit & 1) != 0;
        bool Complete(long s, int v) => v == N ? Loss(s) : graph.Consumers(v).All(w => Done(s, w)); // d_v has every contribution
        bool Gradient(long s, int v) => (v == 0 || !Done(s, v)) && (v == N ? Loss(s) : graph.Consumers(v).Any(w => Done(s, w)));
        long Memory(long s)
        {
            long m = 0;
            for (int v = 0; v <= N; v++)
            {
                if (Plain(s, v)) m += graph.OutputBytes(v);
                if (Record(s, v)) m += graph[v].SavedBytes;
                if (Gradient(s, v)) m += graph.OutputBytes(v);
            }
            return m;
        }

        long start = 1; // x0 plain
        var cost = new Dictionary<long, double> { [start] = minimizePeak ? graph.InputBytes : 0 };
        var from = new Dictionary<long, (long State, Op Op)>();
        var queue = new PriorityQueue<long, double>();
        queue.Enqueue(start, cost[start]);
        long goal = -1;
        var settled = new HashSet<long>();
        while (queue.TryDequeue(out long state, out _))
        {
            if (!settled.Add(state))
                continue;
            if (Enumerable.Range(1, N).All(v => Done(state, v)))
            {
                goal = state;
                break;
            }
            long mem = Memory(state);
            void Move(Op op, long next, long during, double time)
            {
                long peak = Math.Max(during, Memory(next));
                if (peak > budget)
                    return;
                double c = minimizePeak ? Math.Max(cost[state], peak) : cost[state] + time;
                if (!cost.TryGetValue(next, out double old) || c < old)
                {
                    cost[next] = c;
                    from[next] = (state, op);
                    queue.Enqueue(next, c);
                }
            }
            for (int v = 1; v <= N; v++)
            {
                var s = graph[v];
                bool inputs = graph.Inputs(v).All(u => Plain(state, u) || Record(state, u));
                if (inputs && !Plain(state, v))
                {
                    long next = state | 1L << v;
                    Move(Op.Fck(v), next, mem + s.OutputBytes + s.ForwardTempBytes, s.ForwardTime);
                    foreach (int u in graph.Inputs(v))
                        if (u > 0 && Plain(state, u) && graph.Consumers(u).Count == 1)
                            next &= ~(1L << u);
                    // Nothing is freed from under a record, which holds the plain inputs it was made from until its
                    // backward (docs/model.md): no Fn(v) while x̄_v is stored, no Free(u) while a reader's record is.
                    if (next != (state | 1L << v) && !Record(state, v))
                        Move(Op.Fn(v), next, mem + s.OutputBytes + s.ForwardTempBytes, s.ForwardTime);
                }
                if (inputs && !Record(state, v) && !Done(state, v))
                    Move(Op.Fe(v), state | 1L << (recordShift + v - 1), mem + s.SavedBytes + s.ForwardTempBytes, s.ForwardTime);
                if (Plain(state, v) && graph.Consumers(v).Count >= 2 && !graph.Consumers(v).Any(w => Record(state, w)))
                    Move(Op.Free(v), state & ~(1L << v), mem, 0);
                if (Loss(state) && !Done(state, v) && Record(state, v) && Complete(state, v))
                {
                    long next = (state & ~(1L << (recordShift + v - 1))) | 1L << (doneShift + v - 1);
                    foreach (int u in graph.Inputs(v))
                        if (Plain(next, u) && graph.Consumers(u).All(w => (next >> (doneShift + w - 1) & 1) != 0))
                            next &= ~(1L << u);
                    next &= ~(1L << v); // a plain x_v is dead once B(v) has run
                    Move(Op.B(v), next, mem + s.BackwardTempBytes, s.BackwardTime);
                }
            }
            if (!Loss(state) && (Plain(state, N) || Record(state, N)))
                Move(Op.Loss, (state | 1L << lossBit) & ~(1L << N), mem + graph.OutputBytes(N), 0);
        }
        if (goal < 0)
            return null;
        var ops = new List<Op>();
        for (long s = goal; s != start; s = from[s].State)
            ops.Add(from[s].Op);
        ops.Reverse();
        return new Schedule("exhaustive", ops);
    }
}
