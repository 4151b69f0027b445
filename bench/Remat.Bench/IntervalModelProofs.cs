using System.Diagnostics;
using Google.OrTools.Sat;
using Google.OrTools.Util;

namespace Remat.Bench;

/// <summary>
/// Whether Moccasin's interval formulation (Bartan et al., "Moccasin", ICML 2023, section 3) proves optima faster than
/// the staged model: the formulation in its plainest form, on the plainest graph, the training graph of a uniform chain
/// (docs/benchmarks.md, "Where the goals stand"). It is an experiment, not a planner: it has none of the chain
/// model's operations (records, Fn and Fck, temporaries), only tensors that are computed, kept and freed.
/// </summary>
internal static class IntervalModelProofs
{
    /// <summary>
    /// The chain of <paramref name="stages"/> stages as a graph of 2L nodes in topological order: the forwards f_1 .. f_L,
    /// then the backwards b_L .. b_1. f_i reads f_{i-1}; b_i reads f_i, f_{i-1} and b_{i+1}. Every output is one unit,
    /// a forward takes 1 and a backward 2, and each forward may be computed up to <paramref name="computations"/> times
    /// (Moccasin's C), each backward once. Solved with a budget of <paramref name="share"/> of store-all's peak (L + 1).
    /// </summary>
    public static void Run(int stages, double share, int seconds, int computations, int workers)
    {
        int nodes = 2 * stages;
        long budget = (long)Math.Round(share * (stages + 1));
        var reads = new List<int>[nodes];
        for (int v = 0; v < nodes; v++) reads[v] = [];
        int Forward(int i) => i - 1;
        int Backward(int i) => 2 * stages - i;
        for (int i = 1; i <= stages; i++)
        {
            if (i > 1) reads[Forward(i)].Add(Forward(i - 1));
            reads[Backward(i)].Add(Forward(i));
            if (i > 1) reads[Backward(i)].Add(Forward(i - 1));
            if (i < stages) reads[Backward(i)].Add(Backward(i + 1));
        }

        // Checkmate's stages as Moccasin discretises them: stage s ends with the first computation of node s, and node
        // o <= s may run within it at event s(s+1)/2 + o.
        long Event(int node, int stage) => (long)stage * (stage + 1) / 2 + node;
        long horizon = Event(nodes - 1, nodes - 1) + 2;
        var model = new CpModel();
        var starts = new IntVar[nodes][];
        var ends = new IntVar[nodes][];
        var present = new BoolVar[nodes][];
        var intervals = new List<IntervalVar>();
        var demands = new List<long>();
        var time = new List<(BoolVar Present, long Time)>();
        for (int v = 0; v < nodes; v++)
        {
            int count = v < stages ? computations : 1;
            starts[v] = new IntVar[count];
            ends[v] = new IntVar[count];
            present[v] = new BoolVar[count];
            var events = Enumerable.Range(v, nodes - v).Select(stage => Event(v, stage)).ToArray();
            for (int c = 0; c < count; c++)
            {
                // The c-th computation of v keeps its output from its event to its end (Moccasin's retention interval).
                starts[v][c] = model.NewIntVarFromDomain(Domain.FromValues(events), $"start{v}_{c}");
                ends[v][c] = model.NewIntVar(0, horizon, $"end{v}_{c}");
                present[v][c] = model.NewBoolVar($"present{v}_{c}");
                intervals.Add(model.NewOptionalIntervalVar(starts[v][c], model.NewIntVar(1, horizon, $"length{v}_{c}"), ends[v][c], present[v][c], $"kept{v}_{c}"));
                demands.Add(1);
                time.Add((present[v][c], v < stages ? 1 : 2));
                if (c == 0)
                {
                    model.Add(present[v][0] == 1);
                    model.Add(starts[v][0] == Event(v, v));
                }
                else
                {
                    model.AddImplication(present[v][c], present[v][c - 1]);
                    model.Add(ends[v][c - 1] <= starts[v][c]).OnlyEnforceIf([present[v][c], present[v][c - 1]]);
                }
            }
        }
        model.AddCumulative(budget).AddDemands(intervals, demands); // the memory budget
        // Each computation of v finds each input kept by some computation of u: a reservoir that every kept interval
        // of u raises over its span and the computation of v lowers at its event (Moccasin's precedence constraint).
        for (int v = 0; v < nodes; v++)
            foreach (int u in reads[v])
                for (int c = 0; c < starts[v].Length; c++)
                {
                    var reservoir = model.AddReservoirConstraint(0, starts[u].Length + 1);
                    for (int k = 0; k < starts[u].Length; k++)
                    {
                        reservoir.AddOptionalEvent(starts[u][k] + 1, 1, present[u][k]);
                        reservoir.AddOptionalEvent(ends[u][k], -1, present[u][k]);
                    }
                    reservoir.AddOptionalEvent(starts[v][c], -1, present[v][c]);
                    reservoir.AddOptionalEvent(starts[v][c] + 1, 1, present[v][c]);
                }
        model.Minimize(LinearExpr.WeightedSum(time.Select(t => t.Present), time.Select(t => t.Time)));

        var solver = new CpSolver { StringParameters = $"max_time_in_seconds:{seconds} num_workers:{workers} catch_sigint_signal:false" };
        var watch = Stopwatch.StartNew();
        var status = solver.Solve(model);
        string result = status is CpSolverStatus.Optimal or CpSolverStatus.Feasible
            ? $"{solver.ObjectiveValue} | {solver.BestObjectiveBound} | {(solver.ObjectiveValue - solver.BestObjectiveBound) / solver.ObjectiveValue:P1}"
            : $"{status} | | ";
        Console.WriteLine("| stages | nodes | budget | C | workers | status | seconds | time | bound | gap |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|");
        Console.WriteLine($"| {stages} | {nodes} | {budget} of {stages + 1} | {computations} | {workers} | {status} | {watch.Elapsed.TotalSeconds:F1} | {result} |");
    }
}
