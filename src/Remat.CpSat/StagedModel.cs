using Google.OrTools.Sat;

namespace Remat.CpSat;

/// <summary>
/// The CP-SAT model of <see cref="GraphPlanner"/>: 2N stages, stage t &lt;= N ending with the first forward of node t,
/// stage N + j ending with the backward of node N + 1 - j (the loss opens stage N + 1). In each stage every node may be
/// recorded (Fe) and computed plain (Fck, or Fn to free its single-reader inputs), in index order; outputs read by
/// several nodes are freed by Free after the node that reads them last in the stage, and what is stored between
/// stages is a variable. Memory is checked at every operation, transient memory and the memory after it included,
/// under the graph simulator's rules. With no budget the model minimises the peak instead of the time. With a window
/// w it is the local model: the stage of node k (its first forward, or its backward) runs only nodes k - w .. k and
/// their inputs.
/// </summary>
internal sealed class StagedModel
{
    private readonly Graph _graph;
    private readonly int _n;
    private readonly BoolVar?[,] _fe, _fp, _fn, _feLate; // [stage, node]: Fe before the plain forward, the plain forward, Fn, Fe after it
    private readonly Dictionary<(int T, int U, int K), BoolVar> _free = []; // x_u freed after node k in stage t (by Fn(k) or Free(u))
    private readonly Dictionary<(int T, int U), List<BoolVar>> _freesOf = []; // every free of x_u in stage t
    private readonly BoolVar?[,] _plain, _record; // [stage, node]: x_v plain, x̄_v stored, when the stage starts
    private readonly List<(IntVar Value, Constraint Definition)> _memory = []; // the memory so far, in the order defined

    /// <summary>
    /// Builds the model, or returns null as soon as <paramref name="affordable"/> says it takes too long or grows too
    /// large. It is asked with a count the model's variables will reach at least: <see cref="LeastVariables"/> before
    /// anything is built, then the count so far after each stage.
    /// </summary>
    public static StagedModel? Build(Graph graph, long? budgetBytes, int? window, Func<long, bool> affordable)
    {
        try
        {
            return new StagedModel(graph, budgetBytes, window, affordable);
        }
        catch (Unaffordable)
        {
            return null;
        }
    }

    private sealed class Unaffordable : Exception;

    /// <summary>
    /// The variables every model of a graph of <paramref name="nodes"/> nodes has at least, whatever its window: whether
    /// each output is kept plain between stages (N(N + 1)/2 + N(N - 1)) and each record (2N^2 - N(N + 1)/2).
    /// </summary>
    public static long LeastVariables(int nodes) => 3L * nodes * nodes - nodes;

    /// <summary>Builds the model, whatever its size.</summary>
    public StagedModel(Graph graph, long? budgetBytes, int? window = null) : this(graph, budgetBytes, window, _ => true)
    {
    }

    private StagedModel(Graph graph, long? budgetBytes, int? window, Func<long, bool> affordable)
    {
        void Afford(long variables)
        {
            if (!affordable(variables))
                throw new Unaffordable();
        }

        Afford(LeastVariables(graph.Count));
        _graph = graph;
        int N = _n = graph.Count, T = 2 * N;
        Model = new CpModel();
        long unit = Unit(graph);
        long A(int v) => graph.OutputBytes(v) / unit;
        long Abar(int v) => graph[v].SavedBytes / unit;
        long Ftmp(int v) => graph[v].ForwardTempBytes / unit;
        long Btmp(int v) => graph[v].BackwardTempBytes / unit;
        int BStage(int v) => 2 * N + 1 - v; // B(v) closes this stage
        int First(int u) => graph.Consumers(u).Max(); // the first backward among u's readers gives d_u
        int Last(int u) => graph.Consumers(u).Min();  // the last frees a plain x_u left
        // Node v may run in stage t: in a forward stage up to the stage's node, in a backward one up to its backward's
        // node; with a window w, only the w nodes below that node, the node itself, and the inputs they read.
        bool Runs(int t, int v)
        {
            int top = t <= N ? t : 2 * N + 1 - t;
            if (v > top)
                return false;
            if (window is not { } w || v >= top - w)
                return true;
            for (int k = Math.Max(1, top - w); k <= top; k++)
                if (graph.Inputs(k).Contains(v))
                    return true;
            return false;
        }

        // Memory never passes every size stored at once: x0 and d0, and each node's output, record and gradient.
        long ceiling = 2 * graph.InputBytes / unit + Enumerable.Range(1, N).Sum(v => 2 * A(v) + Abar(v) + Ftmp(v) + Btmp(v));
        LinearExpr limit;
        IntVar? peak = null;
        if (budgetBytes is { } budget)
            limit = LinearExpr.Constant(budget / unit);
        else
        {
            peak = Model.NewIntVar(0, ceiling, "peak");
            limit = peak;
        }

        _fe = new BoolVar?[T + 1, N + 1];
        _fp = new BoolVar?[T + 1, N + 1];
        _fn = new BoolVar?[T + 1, N + 1];
        _feLate = new BoolVar?[T + 1, N + 1];
        var plain = _plain = new BoolVar?[T + 2, N + 1];
        var record = _record = new BoolVar?[T + 2, N + 1];
        for (int t = 1; t <= T; t++, Afford(Model.Model.Variables.Count))
            for (int v = 1; v <= N; v++)
            {
                bool forward = t <= N;
                // A record is useful up to its backward; a plain x_v while a reader of it still has a backward to come.
                if (Runs(t, v))
                    _fe[t, v] = Model.NewBoolVar($"fe{t}_{v}");
                // In a chain, Fn(k) is the only way to drop a plain x_{k-1} before B(k), at the price of an x_k
                // that B(k) frees: plain forwards are allowed up to the node's own backward.
                if (Runs(t, v))
                {
                    _fp[t, v] = Model.NewBoolVar($"fp{t}_{v}");
                    if (graph.Inputs(v).Any(u => u > 0 && graph.Consumers(u).Count == 1))
                    {
                        _fn[t, v] = Model.NewBoolVar($"fn{t}_{v}");
                        Model.AddImplication(_fn[t, v]!, _fp[t, v]!);
                        if (_fe[t, v] is not null)
                        {
                            // Recording after Fn(v) has freed the inputs (Fn(k) Fe(k) in a chain: the record's peak is lower).
                            _feLate[t, v] = Model.NewBoolVar($"fl{t}_{v}");
                            Model.AddImplication(_feLate[t, v]!, _fn[t, v]!);
                            Model.Add(_fe[t, v]! + _feLate[t, v]! <= 1);
                        }
                    }
                }
                if (t < T)
                {
                    if (!forward || v <= t)
                        plain[t + 1, v] = Model.NewBoolVar($"p{t + 1}_{v}");
                    if (t < BStage(v))
                        record[t + 1, v] = Model.NewBoolVar($"e{t + 1}_{v}");
                }
            }

        LinearExpr Of(BoolVar? x) => x is null ? LinearExpr.Constant(0) : x;
        // Free(u) of an output read by several nodes, after node k of stage t (k = 0: as the stage starts): no reader
        // of u runs later in the stage, and no record of a reader holds it, neither one kept from an earlier stage
        // nor one made earlier in this one (a record holds the plain inputs it was made from, docs/model.md).
        void SharedFree(BoolVar freed, int t, int u, int k)
        {
            foreach (int w in graph.Consumers(u))
            {
                if (record[t, w] is { } held)
                    Model.Add(freed + held <= 1);
                if (w > k)
                {
                    foreach (var reads in new[] { _fe[t, w], _fp[t, w], _feLate[t, w] })
                        if (reads is not null)
                            Model.Add(freed + reads <= 1);
                }
                else
                    Model.Add(freed + Of(_fe[t, w]) + Of(_feLate[t, w]) <= 1);
            }
        }
        // Plain x_u once the stage's loss has run (the loss frees a plain x_N).
        LinearExpr PlainIn(int t, int u) => t == N + 1 && u == N ? LinearExpr.Constant(0) : Of(plain[t, u]);
        BoolVar? FreeVar(int t, int u, int k)
        {
            if (!_free.TryGetValue((t, u, k), out var f))
            {
                _free[(t, u, k)] = f = Model.NewBoolVar($"free{t}_{u}_{k}");
                if (!_freesOf.TryGetValue((t, u), out var list))
                    _freesOf[(t, u)] = list = [];
                list.Add(f);
            }
            return f;
        }

        // The gradients alive when each stage's operations start: d_N from the loss, d_u from the first reader's backward.
        var gradients = new long[T + 2];
        for (int t = N + 1; t <= T; t++)
        {
            int v = 2 * N + 1 - t; // this stage's backward
            long g = t == N + 1 ? A(N) : gradients[t];
            gradients[t] = g;
            long after = g - A(v) + graph.Inputs(v).Where(u => First(u) == v).Sum(A);
            gradients[t + 1] = after;
        }
        // x0 stays until the last of its readers' backwards.
        bool InputAlive(int t) => t <= BStage(Last(0));

        for (int t = 1; t <= T; t++, Afford(Model.Model.Variables.Count))
        {
            bool forward = t <= N;
            int b = forward ? 0 : 2 * N + 1 - t;
            if (forward)
            {
                Model.Add(Of(_fe[t, t]) + Of(_fp[t, t]) + Of(_feLate[t, t]) >= 1); // the stage's node, computed for the first time
            }
            // The memory so far in the stage: an integer variable after each node, so each constraint stays short.
            var mem = LinearExpr.NewBuilder();
            LinearExprBuilder Checkpointed(LinearExprBuilder expression, string name)
            {
                var value = Model.NewIntVar(0, ceiling, name);
                _memory.Add((value, Model.Add(value == expression)));
                var next = LinearExpr.NewBuilder();
                next.Add(value);
                return next;
            }
            if (InputAlive(t))
                mem.Add(graph.InputBytes / unit);
            for (int u = 1; u <= N; u++)
            {
                mem.AddTerm(PlainIn(t, u), A(u));
                if (record[t, u] is { } e)
                    mem.AddTerm(e, Abar(u));
            }
            mem.Add(gradients[t]);
            // Free(u) as the stage starts (k = 0 below), for an output read by several nodes that no record of a reader
            // holds: after a backward, say, where no node of the stage reads it.
            for (int u = 1; u <= N; u++)
                if (t > 1 && graph.Consumers(u).Count >= 2 && plain[t, u] is { } stored)
                {
                    var freed = FreeVar(t, u, 0)!;
                    Model.Add(freed <= stored);
                    SharedFree(freed, t, u, 0);
                    mem.AddTerm(freed, -A(u));
                }
            mem = Checkpointed(mem, $"m{t}_0");
            if (t == N + 1)
            {
                // The loss: needs x_N, stores d_N, frees a plain x_N; checked with x_N plain still counted.
                Model.Add(Of(plain[t, N]) + Of(record[t, N]) >= 1);
                var atLoss = LinearExpr.NewBuilder();
                atLoss.Add(mem);
                atLoss.AddTerm(Of(plain[t, N]), A(N));
                Model.Add(atLoss <= limit);
            }
            Model.Add(mem <= limit);

            for (int v = 1; v <= N; v++)
            {
                var fe = _fe[t, v];
                var fp = _fp[t, v];
                var late = _feLate[t, v];
                if (fe is null && fp is null)
                    continue;
                // Every input is stored (plain or in a record) or computed earlier in the stage.
                foreach (int u in graph.Inputs(v).Where(u => u > 0))
                {
                    var available = Of(record[t, u]) + Of(_fe[t, u]) + Of(_feLate[t, u]) + PlainIn(t, u) + Of(_fp[t, u]);
                    if (fe is not null) Model.Add(fe <= available);
                    if (fp is not null) Model.Add(fp <= available);
                }
                if (fe is not null)
                {
                    if (record[t, v] is { } e)
                        Model.Add(fe + Of(late) + e <= 1); // never a second record
                    var during = LinearExpr.NewBuilder();
                    during.Add(mem);
                    during.AddTerm(fe, Abar(v) + Ftmp(v));
                    Model.Add(during <= limit);
                    mem.AddTerm(fe, Abar(v));
                }
                if (fp is not null)
                {
                    Model.Add(fp + PlainIn(t, v) <= 1); // never a second plain copy
                    var during = LinearExpr.NewBuilder();
                    during.Add(mem);
                    during.AddTerm(fp, A(v) + Ftmp(v));
                    Model.Add(during <= limit);
                    mem.AddTerm(fp, A(v));
                }
                // Frees after node v: single-reader inputs by Fn(v), several-reader outputs by Free. A record holds the
                // plain inputs it was made from until its backward (docs/model.md), so nothing is freed from under a
                // record: no Fn(v) while x̄_v is stored (or made earlier in the stage), no Free(u) while a reader's is.
                if (_fn[t, v] is { } pinned)
                    Model.Add(pinned + Of(fe) + Of(record[t, v]) <= 1);
                foreach (int u in graph.Inputs(v).Where(u => u > 0 && graph.Consumers(u).Count == 1))
                {
                    if (_fn[t, v] is not { } fn)
                        continue;
                    var live = PlainIn(t, u) + Of(_fp[t, u]);
                    var freed = FreeVar(t, u, v)!;
                    Model.Add(freed <= fn);
                    Model.Add(freed <= live);
                    Model.Add(freed >= fn + live - 1); // Fn frees every plain single-reader input
                    mem.AddTerm(freed, -A(u));
                }
                if (late is not null)
                {
                    // The inputs Fn(v) freed must still be in a record.
                    foreach (int u in graph.Inputs(v).Where(u => u > 0 && graph.Consumers(u).Count == 1))
                        Model.Add(late + FreeVar(t, u, v)! <= 1 + Of(record[t, u]) + Of(_fe[t, u]) + Of(_feLate[t, u]));
                    var during = LinearExpr.NewBuilder();
                    during.Add(mem);
                    during.AddTerm(late, Abar(v) + Ftmp(v));
                    Model.Add(during <= limit);
                    mem.AddTerm(late, Abar(v));
                }
                foreach (int u in graph.Inputs(v).Append(v).Where(u => u > 0 && graph.Consumers(u).Count >= 2))
                {
                    var freed = FreeVar(t, u, v)!;
                    Model.Add(freed <= (u == v ? Of(fp) : Of(fe) + Of(fp) + Of(late)));
                    Model.Add(freed <= PlainIn(t, u) + Of(_fp[t, u]));
                    SharedFree(freed, t, u, v);
                    mem.AddTerm(freed, -A(u));
                }
                Model.Add(mem <= limit);
                mem = Checkpointed(mem, $"m{t}_{v}");
            }

            // What each plain output becomes at the end of the stage: kept, freed, or left to this stage's backward.
            for (int u = 1; u <= N; u++)
            {
                var live = PlainIn(t, u) + Of(_fp[t, u]);
                var end = LinearExpr.NewBuilder();
                end.Add(live);
                foreach (var f in _freesOf.GetValueOrDefault((t, u), []))
                    end.AddTerm(f, -1);
                Model.Add(end >= 0);
                // B(b) frees it: no reader is left, or it is b's own output, dead once B(b) has run (docs/model.md).
                bool dropsHere = !forward && (graph.Consumers(u).Count > 0 && Last(u) == b || u == b);
                if (dropsHere)
                {
                    if (t < T && plain[t + 1, u] is { } gone)
                        Model.Add(gone == 0);
                }
                else if (t < T && plain[t + 1, u] is { } next)
                    Model.Add(end == next);
                else if (t < T)
                    Model.Add(end == 0);
            }
            // Records: kept until the backward that uses them.
            for (int v = 1; v <= N; v++)
            {
                if (t >= BStage(v))
                    continue;
                if (record[t + 1, v] is { } next)
                    Model.Add(next == Of(record[t, v]) + Of(_fe[t, v]) + Of(_feLate[t, v]));
            }

            if (!forward)
            {
                // B(b): needs x̄_b; frees x̄_b and d_b, stores d_u for the inputs it reaches first, and frees plain inputs it
                // reads last and a plain x_b.
                Model.Add(Of(record[t, b]) + Of(_fe[t, b]) + Of(_feLate[t, b]) >= 1);
                var during = LinearExpr.NewBuilder();
                during.Add(mem);
                during.Add(Btmp(b));
                Model.Add(during <= limit);
                var after = LinearExpr.NewBuilder();
                after.Add(mem);
                after.Add(-Abar(b) - A(b) + graph.Inputs(b).Where(u => First(u) == b).Sum(A));
                foreach (int u in graph.Inputs(b).Where(u => Last(u) == b).Append(b))
                {
                    if (u == 0)
                        after.Add(-graph.InputBytes / unit);
                    else
                    {
                        var live = LinearExpr.NewBuilder();
                        live.Add(PlainIn(t, u) + Of(_fp[t, u]));
                        foreach (var f in _freesOf.GetValueOrDefault((t, u), []))
                            live.AddTerm(f, -1);
                        after.AddTerm(live, -A(u));
                    }
                }
                Model.Add(after <= limit);
            }
        }

        if (peak is not null)
        {
            Model.Minimize(peak);
            return;
        }
        // The objective: the forward time of every forward (the backward time is the same for every schedule).
        double maxF = Enumerable.Range(1, N).Max(v => graph[v].ForwardTime);
        bool integral = Enumerable.Range(1, N).All(v => graph[v].ForwardTime == Math.Floor(graph[v].ForwardTime) && graph[v].ForwardTime < 1e9);
        double scale = integral || maxF == 0 ? 1 : 1e6 / maxF;
        var time = LinearExpr.NewBuilder();
        for (int t = 1; t <= T; t++)
            for (int v = 1; v <= N; v++)
            {
                long f = (long)Math.Round(graph[v].ForwardTime * scale);
                foreach (var x in new[] { _fe[t, v], _fp[t, v], _feLate[t, v] })
                    if (x is not null)
                        time.AddTerm(x, f);
            }
        Model.Minimize(time);
    }

    /// <summary>The model.</summary>
    public CpModel Model { get; }

    /// <summary>The memory unit: the greatest common divisor of every size, so the model is exact in bytes (the budget is rounded down to it).</summary>
    private static long Unit(Graph graph)
    {
        static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);
        long g = graph.InputBytes;
        foreach (var s in graph.Nodes)
            g = Gcd(Gcd(Gcd(Gcd(g, s.OutputBytes), s.SavedBytes), s.ForwardTempBytes), s.BackwardTempBytes);
        return Math.Max(1, g);
    }

    /// <summary>
    /// Hints a schedule to the solver (Checkmate seeds its solver the same way): the schedule is replayed stage by
    /// stage and every variable gets its value (forwards, frees, what each stage starts with), so a valid schedule,
    /// such as store-all where it fits, is a complete first solution to improve on.
    /// </summary>
    public void Hint(Schedule schedule)
    {
        int N = _n, t = 1, last = 0;
        bool closed = false; // the stage's last operation has run: the first forward of node t, or the backward
        var seen = new bool[N + 1];
        var plain = new bool[N + 1];
        var record = new bool[N + 1];
        var done = new bool[N + 1];
        var on = new HashSet<BoolVar>();
        void Set(BoolVar? x)
        {
            if (x is not null)
                on.Add(x);
        }
        // The next stage starts with what is stored once the last one has closed.
        void Open()
        {
            if (!closed)
                return;
            (t, last, closed) = (t + 1, 0, false);
            for (int v = 1; v <= N; v++)
            {
                if (plain[v]) Set(_plain[t, v]);
                if (record[v]) Set(_record[t, v]);
            }
        }
        foreach (var op in schedule.Ops)
        {
            int v = op.Stage;
            switch (op.Kind)
            {
                case OpKind.Fe or OpKind.Fck or OpKind.Fn:
                {
                    Open();
                    if (op.Kind == OpKind.Fe)
                    {
                        Set(_feLate[t, v] is { } late && on.Contains(_fp[t, v]!) ? late : _fe[t, v]);
                        record[v] = true;
                    }
                    else
                    {
                        Set(_fp[t, v]);
                        plain[v] = true;
                        if (op.Kind == OpKind.Fn)
                        {
                            Set(_fn[t, v]);
                            foreach (int u in _graph.Inputs(v).Where(u => u > 0 && plain[u] && _graph.Consumers(u).Count == 1))
                            {
                                plain[u] = false;
                                Set(_free.GetValueOrDefault((t, u, v)));
                            }
                        }
                    }
                    last = v;
                    if (t <= N && v == t && !seen[v])
                        closed = seen[v] = true;
                    break;
                }
                case OpKind.Free:
                    // A free right after a stage's first forward frees after that node where the model has it so,
                    // else as the next stage starts.
                    if (!(closed && t <= N && _free.ContainsKey((t, v, last))))
                        Open();
                    plain[v] = false;
                    Set(_free.GetValueOrDefault((t, v, last)));
                    break;
                case OpKind.Loss:
                    Open();
                    plain[N] = false;
                    break;
                case OpKind.B:
                    Open();
                    record[v] = false;
                    plain[v] = false;
                    done[v] = true;
                    foreach (int u in _graph.Inputs(v).Where(u => u > 0 && _graph.Consumers(u).All(w => done[w])))
                        plain[u] = false;
                    closed = true;
                    break;
            }
        }
        var all = new[] { _fe, _fp, _fn, _feLate, _plain, _record }.SelectMany(a => a.Cast<BoolVar?>()).Concat(_free.Values);
        var hinted = new Dictionary<int, long>();
        foreach (var x in all)
            if (x is not null)
            {
                Model.AddHint(x, on.Contains(x));
                hinted[x.GetIndex()] = on.Contains(x) ? 1 : 0;
            }
        // The memory variables too, each from its definition (value - expression == constant, over variables hinted
        // before it), so that the hint is complete and the solver starts from it at once rather than completing it.
        foreach (var (value, definition) in _memory)
        {
            var linear = Model.Model.Constraints[definition.Index].Linear;
            long rest = linear.Domain[0], own = 0;
            for (int i = 0; i < linear.Vars.Count; i++)
            {
                if (linear.Vars[i] == value.GetIndex())
                    own = linear.Coeffs[i];
                else
                    rest -= linear.Coeffs[i] * hinted[linear.Vars[i]];
            }
            Model.AddHint(value, hinted[value.GetIndex()] = rest / own);
        }
    }

    /// <summary>The schedule of a solution: per stage, the loss, each node's Fe then Fck or Fn, the Frees after it, and the backward.</summary>
    public Schedule Schedule(CpSolver solver, string strategy)
    {
        int N = _n, T = 2 * N;
        bool On(BoolVar? x) => x is not null && solver.BooleanValue(x);
        var ops = new List<Op>();
        for (int t = 1; t <= T; t++)
        {
            for (int u = 1; u <= N; u++)
                if (_free.TryGetValue((t, u, 0), out var atStart) && solver.BooleanValue(atStart))
                    ops.Add(Op.Free(u));
            if (t == N + 1)
                ops.Add(Op.Loss);
            for (int v = 1; v <= N; v++)
            {
                if (On(_fe[t, v]))
                    ops.Add(Op.Fe(v));
                if (On(_fp[t, v]))
                    ops.Add(On(_fn[t, v]) ? Op.Fn(v) : Op.Fck(v));
                if (On(_feLate[t, v]))
                    ops.Add(Op.Fe(v));
                foreach (int u in _graph.Inputs(v).Append(v).Where(u => u > 0 && _graph.Consumers(u).Count >= 2).Distinct())
                    if (_free.TryGetValue((t, u, v), out var f) && solver.BooleanValue(f))
                        ops.Add(Op.Free(u));
            }
            if (t > N)
                ops.Add(Op.B(2 * N + 1 - t));
        }
        return new Schedule(strategy, ops);
    }
}
