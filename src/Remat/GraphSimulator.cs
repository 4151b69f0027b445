namespace Remat;

/// <summary>
/// Replays a schedule on a <see cref="Graph"/> under the rules of the chain model generalised to graphs
/// (docs/model.md, "Graphs"), and returns its <see cref="Trace"/>. On a chain's graph it gives the chain simulator's
/// trace for every chain schedule.
/// </summary>
public static class GraphSimulator
{
    /// <summary>Replays <paramref name="schedule"/>; throws <see cref="ScheduleException"/> with the first bad operation and what it lacked.</summary>
    public static Trace Run(Graph graph, Schedule schedule) => Run(graph, schedule, complete: true);

    internal static Trace Run(Graph graph, Schedule schedule, bool complete)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(schedule);
        // Nodes recorded partially run as the graph's nodes with their partial records in place (docs/model.md).
        graph = graph.WithPartialRecords(schedule.PartialRecords);
        int n = schedule.Ops.Count, N = graph.Count;
        var memoryAfter = new long[n];
        var peakDuring = new long[n];
        var timeAfter = new double[n];
        var forwards = new int[N];
        var plain = new bool[N + 1];
        var record = new bool[N + 1];
        var gradient = new bool[N + 1]; // d_v is stored
        var done = new bool[N + 1];     // B(v) has run
        var waiting = new int[N + 1]; // readers whose B has not run
        for (int v = 0; v <= N; v++)
            waiting[v] = graph.ReaderCount(v);
        // A record holds the plain copies of its inputs it was made from until its backward (docs/model.md): a copy
        // freed before that keeps its bytes until the last record made from it goes.
        var copy = new int[N + 1]; // the plain copy of x_u stored now, an index into the two lists below (x0's is 0)
        var pins = new List<int> { 0 }; // by copy: the live records made from it
        var kept = new List<long> { 0 }; // by copy: its bytes while it is freed but a record still holds it
        var madeFrom = new int[N + 1][]; // per record x̄_v, by input: the copy it was made from, or -1 (a record's output)
        plain[0] = true;
        long mem = graph.InputBytes;
        void FreePlain(int u)
        {
            plain[u] = false;
            if (pins[copy[u]] > 0)
                kept[copy[u]] = graph.OutputBytes(u);
            else
                mem -= graph.OutputBytes(u);
        }
        double time = 0;
        bool lossDone = false;
        int backwards = 0;

        for (int i = 0; i < n; i++)
        {
            var op = schedule.Ops[i];
            int v = op.Stage;
            long during;
            if (op.Kind != OpKind.Loss && (v < 1 || v > N))
                throw new ScheduleException(i, $"{op}: there is no stage {v}; the stages are 1 to {N}.");
            switch (op.Kind)
            {
                case OpKind.Fn or OpKind.Fck or OpKind.Fe:
                {
                    foreach (int u in graph.InputArray(v))
                        if (!plain[u] && !record[u])
                            throw new ScheduleException(i, $"{op} needs x_{u}, which is not stored (neither plain nor in a record).");
                    var s = graph[v];
                    if (op.Kind == OpKind.Fe)
                    {
                        if (record[v])
                            throw new ScheduleException(i, $"{op} would store the record x̄_{v} a second time.");
                        during = mem + s.SavedBytes + s.ForwardTempBytes;
                        record[v] = true;
                        mem += s.SavedBytes;
                        var inputs = graph.InputArray(v);
                        var held = madeFrom[v] ??= new int[inputs.Length];
                        for (int j = 0; j < inputs.Length; j++)
                        {
                            held[j] = plain[inputs[j]] ? copy[inputs[j]] : -1; // the runtimes read a plain input first
                            if (held[j] >= 0)
                                pins[held[j]]++;
                        }
                    }
                    else
                    {
                        if (plain[v])
                            throw new ScheduleException(i, $"{op} would store x_{v} plain a second time.");
                        during = mem + s.OutputBytes + s.ForwardTempBytes;
                        plain[v] = true;
                        copy[v] = pins.Count;
                        pins.Add(0);
                        kept.Add(0);
                        mem += s.OutputBytes;
                        if (op.Kind == OpKind.Fn)
                            foreach (int u in graph.InputArray(v))
                                if (u > 0 && plain[u] && graph.ReaderCount(u) == 1)
                                    FreePlain(u);
                    }
                    time += s.ForwardTime;
                    forwards[v - 1]++;
                    break;
                }
                case OpKind.Free:
                    if (graph.ReaderCount(v) < 2)
                        throw new ScheduleException(i, v == N
                            ? $"{op}: the output x_{N} is freed by the Loss."
                            : $"{op}: x_{v} is read by one stage only, so Fn({graph.Consumers(v)[0]}) or B({graph.Consumers(v)[0]}) frees it, as in a chain; Free is for outputs read by two or more stages.");
                    if (!plain[v])
                        throw new ScheduleException(i, $"{op} frees x_{v}, which is not stored plain.");
                    during = mem;
                    FreePlain(v);
                    break;
                case OpKind.Loss:
                    if (lossDone)
                        throw new ScheduleException(i, "Loss runs a second time; it must run exactly once, before the backwards.");
                    if (!plain[N] && !record[N])
                        throw new ScheduleException(i, $"Loss needs x_{N}, which is not stored (neither plain nor in a record).");
                    lossDone = true;
                    during = mem + graph.OutputBytes(N);
                    mem += graph.OutputBytes(N);
                    gradient[N] = true;
                    if (plain[N])
                        FreePlain(N);
                    break;
                case OpKind.B:
                {
                    if (!lossDone)
                        throw new ScheduleException(i, $"{op} runs before the Loss; run Loss once before any backward.");
                    if (done[v])
                        throw new ScheduleException(i, $"{op} runs after B({v}) already ran; every backward runs exactly once.");
                    if (waiting[v] > 0)
                        throw new ScheduleException(i, $"{op} is out of order: d_{v} is complete only once B({graph.Consumers(v).First(w => !done[w])}) has run.");
                    if (!record[v])
                        throw new ScheduleException(i, $"{op} needs the record x̄_{v}, which is not stored; run Fe({v}) before it.");
                    var s = graph[v];
                    during = mem + s.BackwardTempBytes;
                    record[v] = false;
                    gradient[v] = false;
                    done[v] = true;
                    mem -= s.SavedBytes + s.OutputBytes; // x̄_v and d_v
                    foreach (int held in madeFrom[v])
                        if (held >= 0 && --pins[held] == 0)
                        {
                            mem -= kept[held];
                            kept[held] = 0;
                        }
                    if (plain[v])
                        FreePlain(v); // every reader has run its backward and x̄_v is gone: nothing can read x_v any more
                    foreach (int u in graph.InputArray(v))
                    {
                        if (!gradient[u])
                        {
                            gradient[u] = true; // d_u is allocated by its first contribution
                            mem += graph.OutputBytes(u);
                        }
                        if (--waiting[u] == 0 && plain[u])
                            FreePlain(u); // no forward can need x_u any more
                    }
                    backwards++;
                    time += s.BackwardTime;
                    break;
                }
                default:
                    throw new ScheduleException(i, $"unknown operation {op.Kind}.");
            }
            memoryAfter[i] = mem;
            peakDuring[i] = Math.Max(during, mem);
            timeAfter[i] = time;
        }

        if (complete && !lossDone)
            throw new ScheduleException(n, "the schedule ends before the Loss; a schedule runs Loss once, then every backward.");
        if (complete && backwards < N)
            throw new ScheduleException(n, $"the schedule ends before B({Enumerable.Range(1, N).Last(v => !done[v])}); every backward must run.");
        return new Trace(schedule, memoryAfter, peakDuring, timeAfter, forwards);
    }
}
