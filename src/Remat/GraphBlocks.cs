using Remat.Planners;

namespace Remat;

/// <summary>
/// A graph as a chain of blocks, planned by the chain program (Rockmate, Zhao et al. ICML 2023, which runs rotor's
/// program across the blocks of a graph). The graph is cut after every node whose output is the only tensor that
/// crosses it, as after each residual block of a ResNet; block i, the nodes between two cuts, is stage i of a chain.
/// <see cref="Optimal"/> plans that chain, and each of its operations runs its block's nodes: a forward runs them in
/// order, freeing what the block no longer reads; a recording forward records each; a backward runs their backwards
/// in reverse order. A graph with no cut (a U-Net: its long skips cross every node) is one block, and a chain is
/// itself.
/// </summary>
public static class GraphBlocks
{
    /// <summary>The most chain plans <see cref="Fastest"/> tries in its search for the chain budget.</summary>
    private const int MaxTries = 10;

    /// <summary>The cuts 0 = c_0 &lt; c_1 &lt; ... &lt; c_B = N: no node after c_i reads a node before it.</summary>
    internal static int[] Cuts(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var cuts = new List<int> { 0 };
        int reach = 0; // the last node that reads a node before v
        for (int v = 1; v < graph.Count; v++)
        {
            reach = Math.Max(reach, graph.Consumers(v - 1).Max());
            if (reach <= v)
                cuts.Add(v);
        }
        cuts.Add(graph.Count);
        return [.. cuts];
    }

    /// <summary>
    /// The chain of the graph's blocks. Stage i takes the sums of its nodes' times and records; its output is the cut's;
    /// its temporaries cover the peak of a recording forward, of a plain one that frees each output after its last
    /// reader, and of the backwards, each measured from the memory before the block as the graph's rules count it.
    /// </summary>
    public static Chain ToChain(Graph graph)
    {
        var cuts = Cuts(graph);
        var stages = new Stage[cuts.Length - 1];
        for (int i = 1; i < cuts.Length; i++)
        {
            int lo = cuts[i - 1] + 1, hi = cuts[i];
            long output = graph.OutputBytes(hi), saved = 0, recording = 0, plainPeak = 0;
            double f = 0, b = 0;
            for (int v = lo; v <= hi; v++)
            {
                var s = graph[v];
                f += s.ForwardTime;
                b += s.BackwardTime;
                recording = Math.Max(recording, saved + s.SavedBytes + s.ForwardTempBytes);
                saved += s.SavedBytes;
                // A plain forward holds the block's outputs that a node from v on still reads.
                long live = Enumerable.Range(lo, v - lo).Where(u => graph.Consumers(u).Max() >= v).Sum(graph.OutputBytes);
                plainPeak = Math.Max(plainPeak, live + s.OutputBytes + s.ForwardTempBytes);
            }
            // The backwards: each adds its temporaries to the memory before it, frees its record and gradient, and
            // allocates its inputs' gradients at their first contribution.
            long current = 0, backward = 0;
            var gradient = new HashSet<int>();
            for (int v = hi; v >= lo; v--)
            {
                backward = Math.Max(backward, current + graph[v].BackwardTempBytes);
                current -= graph[v].SavedBytes + graph[v].OutputBytes;
                current += graph.Inputs(v).Where(gradient.Add).Sum(graph.OutputBytes);
                if (v > lo)
                    backward = Math.Max(backward, current);
            }
            long forwardTemp = Math.Max(0, Math.Max(recording - saved, plainPeak - output));
            string name = lo == hi ? graph.Where(lo) : $"nodes {lo}-{hi}";
            stages[i - 1] = new Stage(name, f, b, output, saved, forwardTemp, backward);
        }
        return new Chain(graph.InputBytes, stages, graph.Name);
    }

    /// <summary>
    /// The graph schedule that runs each operation of <paramref name="chainSchedule"/>, a schedule of
    /// <see cref="ToChain"/>, on its block's nodes. A plain forward frees each of the block's outputs after its last
    /// reader (by <see cref="OpKind.Fn"/> or <see cref="OpKind.Free"/>), and the block's input too for
    /// <see cref="OpKind.Fn"/>; it skips a node whose output is still stored plain.
    /// </summary>
    public static Schedule Expand(Graph graph, Schedule chainSchedule)
    {
        ArgumentNullException.ThrowIfNull(chainSchedule);
        var cuts = Cuts(graph);
        int N = graph.Count;
        var ops = new List<Op>();
        var plain = new bool[N + 1];
        var waiting = Enumerable.Range(0, N + 1).Select(graph.ReaderCount).ToArray(); // readers whose B has not run
        foreach (var op in chainSchedule.Ops)
        {
            if (op.Kind == OpKind.Loss)
            {
                ops.Add(Op.Loss);
                plain[N] = false;
                continue;
            }
            if (op.Stage < 1 || op.Stage >= cuts.Length)
                throw new ScheduleException(ops.Count, $"{op}: the block chain has stages 1 to {cuts.Length - 1}.");
            int lo = cuts[op.Stage - 1] + 1, hi = cuts[op.Stage];
            switch (op.Kind)
            {
                case OpKind.Fe:
                    ops.AddRange(Enumerable.Range(lo, hi - lo + 1).Select(Op.Fe));
                    break;
                case OpKind.Fn or OpKind.Fck:
                    for (int v = lo; v <= hi; v++)
                    {
                        if (plain[v])
                            continue;
                        // The outputs v may drop: the block's own, and the block's input for Fn (never x0).
                        bool Drops(int u) => u >= lo || (op.Kind == OpKind.Fn && u == lo - 1 && u > 0);
                        var single = graph.Inputs(v).Where(u => u > 0 && plain[u] && graph.ReaderCount(u) == 1).ToList();
                        bool fn = single.Count > 0 && single.All(Drops);
                        ops.Add(fn ? Op.Fn(v) : Op.Fck(v));
                        plain[v] = true;
                        if (fn)
                            single.ForEach(u => plain[u] = false);
                        foreach (int u in graph.Inputs(v).Where(u => plain[u] && Drops(u) && graph.ReaderCount(u) >= 2 && graph.Consumers(u).Max() <= v))
                        {
                            ops.Add(Op.Free(u));
                            plain[u] = false;
                        }
                    }
                    break;
                case OpKind.B:
                    for (int v = hi; v >= lo; v--)
                    {
                        ops.Add(Op.B(v));
                        plain[v] = false;
                        foreach (int u in graph.Inputs(v))
                            if (--waiting[u] == 0)
                                plain[u] = false;
                    }
                    break;
                default:
                    throw new ScheduleException(ops.Count, $"{op}: a chain schedule has no {op.Kind}.");
            }
        }
        return new Schedule(chainSchedule.Strategy, ops);
    }

    /// <summary>
    /// The fastest expansion of an <see cref="Optimal"/> plan of the block chain whose peak in the graph is within
    /// <paramref name="budgetBytes"/>, or null when the block chain has no such plan. The chain's terms are bounds, so
    /// its budget is searched (from the graph's budget, by bisection, at most <see cref="MaxTries"/> plans) for the
    /// largest whose expansion fits; every expansion is checked by <see cref="GraphSimulator"/>.
    /// </summary>
    public static Schedule? Fastest(Graph graph, long budgetBytes)
    {
        var chain = ToChain(graph);
        Trace? best = null;
        long fits = Optimal.MinimumBudget(chain), over = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes + 1;
        bool Try(long budget)
        {
            var trace = GraphSimulator.Run(graph, Expand(graph, new Optimal(budget).Plan(chain)));
            if (trace.PeakBytes > budgetBytes)
                return false;
            if (best is null || trace.Time < best.Time)
                best = trace;
            return true;
        }
        if (fits > budgetBytes || !Try(fits))
            return null;
        long next = Math.Clamp(budgetBytes, fits, over - 1);
        for (int tries = 1; tries < MaxTries && over - fits > Math.Max(1, budgetBytes / 1000); tries++)
        {
            if (Try(next))
                fits = next;
            else
                over = next;
            next = fits + (over - fits) / 2;
        }
        return best?.Schedule;
    }
}
