using Remat.Planners;

namespace Remat.Bench;

/// <summary>
/// How much faster Optimal's schedules are than rotor's program on heterogeneous chains, across budgets from the
/// least feasible to store-all's peak (docs/benchmarks.md). Every figure is the simulator's.
/// </summary>
internal static class GainOverRotor
{
    public static void Run()
    {
        Gain();
        PlanningTime(256, 1000, rounds: 5);
    }

    /// <summary>rotor's program against Optimal on one chain, interleaved (A B A B), median and range of each.</summary>
    public static void PlanningTime(int length, int slots, int rounds)
    {
        var chain = Chain.Heterogeneous(length);
        long max = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes, min = Optimal.MinimumBudget(chain);
        long budget = min + (max - min) / 3; // the budget of GoalBenchmarks
        var rotor = new List<double>();
        var optimal = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            rotor.Add(Seconds(() => new Rotor(budget, slots).Plan(chain)));
            optimal.Add(Seconds(() => new Optimal(budget, slots).Plan(chain)));
        }
        string Summary(List<double> s) => $"median {s.Order().ElementAt(s.Count / 2):F2} s (range {s.Min():F2}-{s.Max():F2})";
        Console.WriteLine($"\n{length} stages, {slots} slots, {rounds} interleaved rounds: rotor {Summary(rotor)}, Optimal {Summary(optimal)}");
    }

    private static double Seconds(Action action)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }

    private static void Gain()
    {
        Console.WriteLine("| chains | stages | chains x budgets | Optimal faster | mean gain there | largest gain | rotor has no schedule |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (length, seeds) in new[] { (16, 40), (20, 40), (32, 40), (64, 12), (128, 4), (256, 2) })
            Row("heterogeneous", length, Enumerable.Range(0, seeds).Select(seed => Chain.Heterogeneous(length, seed)).ToList());
        // Profiled by remat train (the commands are in docs/benchmarks.md), found from the build folder up.
        string folder = Path.Combine(AppContext.BaseDirectory, "../../../../chains");
        foreach (string name in new[] { "mlp", "hourglass", "gpt" })
        {
            var chain = ChainJson.Load(Path.Combine(folder, name + ".json"));
            Row($"profiled {name}", chain.Length, [chain]);
        }
    }

    /// <summary>
    /// Where Optimal's gain comes from, by budget: Optimal, the program's table alone (no consuming parts) and its
    /// whole-family search alone (consuming parts included), each against rotor's program at the same budget and
    /// 1,000 slots. A program with no schedule within the budget in its slots counts as not faster.
    /// </summary>
    public static void ByBudget()
    {
        double[] fractions = [0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75];
        Console.WriteLine("| stages | budget | chains | Optimal faster (mean gain) | table faster | search faster |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|");
        foreach (var (length, seeds) in new[] { (16, 40), (20, 40), (32, 8) })
        {
            var faster = new (int Count, double Sum)[fractions.Length, 3];
            for (int seed = 0; seed < seeds; seed++)
            {
                var chain = Chain.Heterogeneous(length, seed);
                long max = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes, min = Optimal.MinimumBudget(chain);
                for (int f = 0; f < fractions.Length; f++)
                {
                    long budget = min + (long)((max - min) * fractions[f]);
                    double Time(Schedule schedule)
                    {
                        var trace = Simulator.Run(chain, schedule);
                        return trace.PeakBytes <= budget ? trace.Time : double.PositiveInfinity;
                    }
                    double Program(ExactFamily.IChooser program, float time, int memories) =>
                        float.IsPositiveInfinity(time) ? double.PositiveInfinity : Time(ExactFamily.Emit("program", length, program, memories));
                    double rotor = Rotor.MinimumBudget(chain) <= budget ? Time(new Rotor(budget).Plan(chain)) : double.PositiveInfinity;
                    var (slotBytes, memories) = Optimal.Resolution(chain, budget, Optimal.DefaultSlots);
                    var table = new ExactTable(chain, slotBytes, memories);
                    var search = new ExactSearch(chain, slotBytes);
                    double[] ours =
                    [
                        Time(new Optimal(budget).Plan(chain)),
                        Program(table, table.Time(memories), memories),
                        Program(search, search.Time(memories), memories),
                    ];
                    for (int k = 0; k < ours.Length; k++)
                        if (ours[k] < rotor)
                            faster[f, k] = (faster[f, k].Count + 1, faster[f, k].Sum + 1 - ours[k] / rotor);
                }
            }
            string Cell(int f, int k) => faster[f, k].Count == 0 ? "0" : $"{faster[f, k].Count} ({faster[f, k].Sum / faster[f, k].Count:P2})";
            for (int f = 0; f < fractions.Length; f++)
                Console.WriteLine($"| {length} | {fractions[f]:P0} | {seeds} | {Cell(f, 0)} | {Cell(f, 1)} | {Cell(f, 2)} |");
        }
    }

    /// <summary>One row: Optimal against rotor's program (both at 1,000 slots) from Optimal's least budget to store-all's peak.</summary>
    private static void Row(string label, int length, List<Chain> chains)
    {
        double[] fractions = [0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75];
        int cases = 0, faster = 0, none = 0;
        double sum = 0, largest = 0;
        foreach (var chain in chains)
        {
            long max = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes, min = Optimal.MinimumBudget(chain);
            long rotorMin = Rotor.MinimumBudget(chain);
            foreach (double fraction in fractions)
            {
                long budget = min + (long)((max - min) * fraction);
                cases++;
                double ours = Simulator.Run(chain, new Optimal(budget).Plan(chain)).Time;
                if (budget < rotorMin)
                {
                    none++;
                    continue;
                }
                double theirs = Simulator.Run(chain, new Rotor(budget).Plan(chain)).Time;
                if (ours < theirs)
                {
                    faster++;
                    sum += 1 - ours / theirs;
                    largest = Math.Max(largest, 1 - ours / theirs);
                }
            }
        }
        Console.WriteLine($"| {label} | {length} | {cases} | {faster} | {(faster == 0 ? 0 : sum / faster):P2} | {largest:P2} | {none} |");
    }
}
