using Remat.Planners;

namespace Remat;

/// <summary>
/// A graph as a chain of blocks, planned by the chain program (Rockmate, Zhao et al. ICML 2023, runs rotor's program
/// across the blocks of a graph). Block i, the nodes after the end of block i - 1 up to its own end e_i, is stage i
/// of a chain whose x_i is the frontier at e_i: the outputs of nodes up to e_i that a later node reads, so the
/// graph's state between two blocks is one activation of the chain. <see cref="Optimal"/> plans that chain, and each
/// of its operations runs its block's nodes (<see cref="Expand"/>). Three ways of cutting are offered: at the cuts,
/// where the frontier is one tensor (after each residual block of a ResNet); one node per block; and one node per
/// block with the skips kept outside the frontiers. On a chain each is the chain itself. docs/planners.md states the
/// terms and what they bound.
/// </summary>
public sealed class GraphBlocks
{
    /// <summary>The most chain plans <see cref="Fastest"/> tries per way of cutting in its search for the chain budget.</summary>
    private const int MaxTries = 10;

    /// <summary>
    /// The longest block chain <see cref="Fastest"/> plans: <see cref="Optimal"/> takes about 0.6 s at 256 stages
    /// (docs/benchmarks.md), and the search up to <see cref="MaxTries"/> times that.
    /// </summary>
    internal const int MaxStages = 256;

    private readonly int[] _ends;
    private readonly bool[] _kept; // outputs kept plain from their forward to their readers' backwards, outside the frontiers
    private readonly int[] _lastReader; // per node u: the last node that reads x_u (u itself for the graph's output)
    private readonly int[][] _frontier; // at 0 and each end p: the outputs of nodes up to p that a node after p reads (x_N alone at N)

    private GraphBlocks(Graph graph, int[] ends, bool[] kept)
    {
        Graph = graph;
        _ends = ends;
        _kept = kept;
        int N = graph.Count;
        _lastReader = [.. Enumerable.Range(0, N).Select(u => graph.Consumers(u).Max()), N];
        _frontier = new int[N + 1][];
        foreach (int p in ends.Prepend(0))
            _frontier[p] = p == N ? [N] : [.. Enumerable.Range(0, p + 1).Where(u => _lastReader[u] > p && (u == p || !kept[u]))];
        Chain = MakeChain();
    }

    /// <summary>Blocks that end where the frontier is one tensor: no node after the end reads a node before it.</summary>
    public static GraphBlocks AtCuts(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var ends = new List<int>();
        int reach = 0; // the last node that reads a node before v
        for (int v = 1; v < graph.Count; v++)
        {
            reach = Math.Max(reach, graph.Consumers(v - 1).Max());
            if (reach <= v)
                ends.Add(v);
        }
        ends.Add(graph.Count);
        return new GraphBlocks(graph, [.. ends], new bool[graph.Count + 1]);
    }

    /// <summary>One node per block: stage k of the chain runs node k, and its x_k is the frontier after node k.</summary>
    public static GraphBlocks PerNode(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return new GraphBlocks(graph, [.. Enumerable.Range(1, graph.Count)], new bool[graph.Count + 1]);
    }

    /// <summary>
    /// One node per block, with every output that a node beyond the next one reads (a U-Net's long skip, a residual's
    /// input) kept plain from its forward until its readers' backwards: x_k is node k's output alone, and the kept
    /// outputs count once, in every later stage's temporaries, instead of once in every stored frontier.
    /// </summary>
    public static GraphBlocks PerNodeKeepingSkips(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var kept = Enumerable.Range(0, graph.Count + 1).Select(u => u > 0 && u < graph.Count && graph.Consumers(u).Max() > u + 1).ToArray();
        return new GraphBlocks(graph, [.. Enumerable.Range(1, graph.Count)], kept);
    }

    /// <summary>The graph.</summary>
    public Graph Graph { get; }

    /// <summary>The last node of each block, in order; the last is the graph's output.</summary>
    public IReadOnlyList<int> Ends => _ends;

    /// <summary>
    /// The chain of the blocks. Stage i sums its nodes' times; a_i is the size of the frontier at its end; its record
    /// is its nodes' records and the frontier's tensors from before the block; its temporaries cover the peaks of a
    /// recording forward, of a plain forward that frees each output after its last reader in the block, and of the
    /// backwards, each from the memory before the block as the graph's rules count it.
    /// </summary>
    public Chain Chain { get; }

    private int First(int block) => block == 0 ? 1 : _ends[block - 1] + 1;

    private long Size(IEnumerable<int> nodes) => nodes.Sum(Graph.OutputBytes);

    private Chain MakeChain()
    {
        var stages = new Stage[_ends.Length];
        for (int i = 0; i < _ends.Length; i++)
        {
            int lo = First(i), hi = _ends[i];
            long output = Size(_frontier[hi]), passing = Size(_frontier[hi].Where(u => u < lo)), saved = 0, recording = 0, plainPeak = 0;
            double f = 0, b = 0;
            for (int v = lo; v <= hi; v++)
            {
                var s = Graph[v];
                f += s.ForwardTime;
                b += s.BackwardTime;
                recording = Math.Max(recording, saved + s.SavedBytes + s.ForwardTempBytes);
                saved += s.SavedBytes;
                // A plain forward holds the block's outputs that a node from v on still reads, the frontier's included.
                long live = Size(Enumerable.Range(lo, v - lo).Where(u => _lastReader[u] >= v));
                plainPeak = Math.Max(plainPeak, live + s.OutputBytes + s.ForwardTempBytes);
            }
            // The backwards: each adds its temporaries to the memory before it, frees its record and gradient, and
            // allocates its inputs' gradients at their first contribution (the frontier's are there already).
            long current = 0, backward = 0;
            var gradient = new HashSet<int>(_frontier[hi]);
            for (int v = hi; v >= lo; v--)
            {
                backward = Math.Max(backward, current + Graph[v].BackwardTempBytes);
                current -= Graph[v].SavedBytes + Graph[v].OutputBytes;
                current += Size(Graph.Inputs(v).Where(gradient.Add));
                if (v > lo)
                    backward = Math.Max(backward, current);
            }
            long record = saved + passing;
            // The kept outputs from before the block's input are stored through all of its operations, in both phases.
            long kept = Size(Enumerable.Range(1, Math.Max(0, lo - 2)).Where(u => _kept[u]));
            long forwardTemp = Math.Max(0, Math.Max(recording - record, plainPeak - output)) + kept;
            string name = lo == hi ? Graph.Where(lo) : $"nodes {lo}-{hi}";
            stages[i] = new Stage(name, f, b, output, record, forwardTemp, backward + kept);
        }
        return new Chain(Size(_frontier[0]), stages, Graph.Name);
    }

    /// <summary>
    /// The graph schedule that runs each operation of <paramref name="chainSchedule"/>, a schedule of
    /// <see cref="Chain"/>, on its block's nodes: <see cref="OpKind.Fe"/> records each; <see cref="OpKind.Fn"/> and
    /// <see cref="OpKind.Fck"/> run them plainly in order, skipping a node whose output is stored plain; <see cref="OpKind.B"/>
    /// runs their backwards in reverse order. A plain forward frees each of its node's inputs (by <see cref="OpKind.Fn"/>,
    /// or by <see cref="OpKind.Free"/> after it) that no node still to run in the block reads and no frontier the
    /// chain holds, plain or in a record, contains. Any other plain output stays until its readers' backwards, as the
    /// graph planner's model has it, so it may stay longer than the chain's terms count.
    /// </summary>
    public Schedule Expand(Schedule chainSchedule)
    {
        ArgumentNullException.ThrowIfNull(chainSchedule);
        int N = Graph.Count, B = _ends.Length;
        var ops = new List<Op>();
        var plain = new bool[N + 1];
        var waiting = Enumerable.Range(0, N + 1).Select(Graph.ReaderCount).ToArray(); // readers whose B has not run
        var held = new int[N + 1]; // per node: the chain's stored x_i (plain, or in a record) whose frontier holds it
        var plainX = new bool[B + 1];
        var recordX = new bool[B + 1];
        plain[0] = plainX[0] = true;
        foreach (int u in _frontier[0])
            held[u]++;
        int[] FrontierOf(int i) => _frontier[i == 0 ? 0 : _ends[i - 1]];
        void Hold(int i, ref bool stored, bool store)
        {
            if (stored == store)
                return;
            stored = store;
            foreach (int u in FrontierOf(i))
                held[u] += store ? 1 : -1;
        }
        // Nothing still reads x_u: no node of the pass after v (up to `until`), no frontier the chain holds.
        bool Unread(int u, int v, int until) => u > 0 && !_kept[u] && held[u] == 0 && !Graph.Consumers(u).Any(w => w > v && w <= until);
        void Release(int v, int until)
        {
            foreach (int u in Graph.Inputs(v))
                if (plain[u] && Graph.ReaderCount(u) >= 2 && Unread(u, v, until))
                {
                    ops.Add(Op.Free(u));
                    plain[u] = false;
                }
        }
        foreach (var op in chainSchedule.Ops)
        {
            if (op.Kind == OpKind.Loss)
            {
                ops.Add(Op.Loss);
                plain[N] = false;
                Hold(B, ref plainX[B], false);
                continue;
            }
            int i = op.Stage;
            if (i < 1 || i > B)
                throw new ScheduleException(ops.Count, $"{op}: the block chain has stages 1 to {B}.");
            int lo = First(i - 1), hi = _ends[i - 1];
            switch (op.Kind)
            {
                case OpKind.Fe:
                    Hold(i, ref recordX[i], true);
                    ops.AddRange(Enumerable.Range(lo, hi - lo + 1).Select(Op.Fe));
                    break;
                case OpKind.Fn or OpKind.Fck:
                    Hold(i, ref plainX[i], true);
                    if (op.Kind == OpKind.Fn && i > 1)
                        Hold(i - 1, ref plainX[i - 1], false);
                    for (int v = lo; v <= hi; v++)
                    {
                        if (!plain[v])
                        {
                            var single = Graph.Inputs(v).Where(u => u > 0 && plain[u] && Graph.ReaderCount(u) == 1).ToList();
                            bool fn = single.Count > 0 && single.All(u => Unread(u, v, hi));
                            ops.Add(fn ? Op.Fn(v) : Op.Fck(v));
                            plain[v] = true;
                            if (fn)
                                single.ForEach(u => plain[u] = false);
                        }
                        Release(v, hi);
                    }
                    break;
                case OpKind.B:
                    Hold(i, ref recordX[i], false);
                    Hold(i, ref plainX[i], false);
                    if (i > 1)
                        Hold(i - 1, ref plainX[i - 1], false);
                    for (int v = hi; v >= lo; v--)
                    {
                        ops.Add(Op.B(v));
                        plain[v] = false;
                        foreach (int u in Graph.Inputs(v))
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
    /// The fastest expansion of an <see cref="Optimal"/> plan of the block chains (<see cref="AtCuts"/>,
    /// <see cref="PerNode"/>, <see cref="PerNodeKeepingSkips"/>, each of at most <see cref="MaxStages"/> stages) whose peak
    /// in the graph is within <paramref name="budgetBytes"/>, or null when none has one. A chain's terms may be loose,
    /// so its budget is searched (its least peak, the graph's budget, then by bisection, at most
    /// <see cref="MaxTries"/> plans) for the largest whose expansion fits; every expansion is checked by
    /// <see cref="GraphSimulator"/>.
    /// </summary>
    public static Schedule? Fastest(Graph graph, long budgetBytes) =>
        Plannable(graph).Select(blocks => blocks.FastestWithin(budgetBytes)).OfType<Trace>().MinBy(t => t.Time)?.Schedule;

    /// <summary>
    /// The block plan with the least peak in the graph that <see cref="Fastest"/> considers: of the three ways of
    /// cutting, the expansion of each block chain's least-peak plan, simulated.
    /// </summary>
    public static Trace LeastPeak(Graph graph) =>
        Plannable(graph).Select(blocks => blocks.Planned(Optimal.MinimumBudget(blocks.Chain))).MinBy(t => t.PeakBytes)!;

    /// <summary>
    /// The three ways of cutting <paramref name="graph"/>, each in at most <see cref="MaxStages"/> blocks, and each once
    /// (on a chain the three are one).
    /// </summary>
    private static List<GraphBlocks> Plannable(Graph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var cuttings = new List<GraphBlocks>();
        foreach (var blocks in new[] { AtCuts(graph), PerNode(graph), PerNodeKeepingSkips(graph) }.Select(blocks => blocks.AtMost(MaxStages)))
            if (!cuttings.Any(c => c._ends.SequenceEqual(blocks._ends) && c._kept.SequenceEqual(blocks._kept)))
                cuttings.Add(blocks);
        return cuttings;
    }

    /// <summary>
    /// These blocks, or, where there are more than <paramref name="stages"/>, every k-th end of them for the least k
    /// that leaves at most that many (the graph's output always ends the last).
    /// </summary>
    private GraphBlocks AtMost(int stages)
    {
        int k = (_ends.Length + stages - 1) / stages;
        return k == 1 ? this : new GraphBlocks(Graph, [.. _ends.Where((_, i) => (i + 1) % k == 0 || i == _ends.Length - 1)], _kept);
    }

    /// <summary>The expansion of the chain program's plan of the block chain at <paramref name="chainBudget"/>, simulated in the graph.</summary>
    private Trace Planned(long chainBudget) => GraphSimulator.Run(Graph, Expand(new Optimal(chainBudget).Plan(Chain)));

    private Trace? FastestWithin(long budgetBytes)
    {
        Trace? best = null;
        long fits = Optimal.MinimumBudget(Chain), over = Simulator.Run(Chain, new StoreAll().Plan(Chain)).PeakBytes + 1;
        bool Try(long budget)
        {
            var trace = Planned(budget);
            if (trace.PeakBytes > budgetBytes)
                return false;
            if (best is null || trace.Time < best.Time)
                best = trace;
            return true;
        }
        if (!Try(fits))
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
        return best;
    }
}
