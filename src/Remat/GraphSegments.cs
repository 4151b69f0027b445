namespace Remat;

/// <summary>
/// Periodic checkpointing (Chen et al. 2016, section 4.1) carried over to graphs: the nodes, in index order, are cut
/// into segments. The forward keeps plain only the outputs a later segment reads (the cut), recording the last
/// segment as it goes; each other segment is recomputed with recording, from the cut, right before its backwards.
/// It is a quick valid schedule for any graph, and the graph planner's first solution where store-all does not fit.
/// </summary>
public static class GraphSegments
{
    /// <summary>The schedule with <paramref name="segments"/> segments of about N / segments nodes.</summary>
    public static Schedule Plan(Graph graph, int segments)
    {
        ArgumentNullException.ThrowIfNull(graph);
        int N = graph.Count;
        segments = Math.Clamp(segments, 1, N);
        var start = Enumerable.Range(0, segments).Select(i => 1 + i * N / segments).Append(N + 1).ToArray();
        var segmentOf = new int[N + 1];
        for (int i = 0; i < segments; i++)
            for (int v = start[i]; v < start[i + 1]; v++)
                segmentOf[v] = i;
        // The cut: outputs read by a node of a later segment than their own, kept plain from the forward on.
        bool Cut(int u) => u > 0 && graph.Consumers(u).Any(w => segmentOf[w] > segmentOf[u]);
        var ops = new List<Op>();
        var plain = new bool[N + 1];
        for (int v = 1; v <= N; v++)
        {
            bool last = segmentOf[v] == segments - 1;
            var ins = graph.Inputs(v);
            // Fn frees every plain input read by v alone: only when none of them is in the cut.
            bool fn = !last && ins.Any(u => u > 0 && plain[u] && graph.Consumers(u).Count == 1) &&
                      !ins.Any(u => u > 0 && plain[u] && graph.Consumers(u).Count == 1 && Cut(u));
            ops.Add(last ? Op.Fe(v) : fn ? Op.Fn(v) : Op.Fck(v));
            if (fn)
                foreach (int u in ins.Where(u => u > 0 && graph.Consumers(u).Count == 1))
                    plain[u] = false;
            if (!last)
                plain[v] = true;
            // An output several nodes read goes once its last reader has run, unless a later segment needs it.
            foreach (int u in ins.Append(v).Where(u => u > 0 && plain[u] && graph.Consumers(u).Count >= 2 && !Cut(u) && graph.Consumers(u).Max() <= v))
            {
                ops.Add(Op.Free(u));
                plain[u] = false;
            }
        }
        ops.Add(Op.Loss);
        for (int i = segments - 1; i >= 0; i--)
        {
            if (i < segments - 1)
                for (int v = start[i]; v < start[i + 1]; v++)
                    ops.Add(Op.Fe(v));
            for (int v = start[i + 1] - 1; v >= start[i]; v--)
                ops.Add(Op.B(v));
        }
        return new Schedule($"segments ({segments})", ops);
    }

    /// <summary>The fastest segmentation whose peak is within <paramref name="budgetBytes"/>, or null when none is.</summary>
    public static Schedule? Fastest(Graph graph, long budgetBytes)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return Enumerable.Range(1, graph.Count)
            .Select(n => GraphSimulator.Run(graph, Plan(graph, n)))
            .Where(t => t.PeakBytes <= budgetBytes)
            .MinBy(t => t.Time)?.Schedule;
    }
}
