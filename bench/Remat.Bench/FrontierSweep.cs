using System.Diagnostics;
using Remat.Planners;

namespace Remat.Bench;

/// <summary>
/// The frontier read from Remat's program's tables (<see cref="ParetoFrontier"/>): how far its points are from
/// <see cref="Optimal"/> planned at each point's peak, and how long it takes on the page's 400-stage chains
/// (docs/benchmarks.md).
/// </summary>
internal static class FrontierSweep
{
    public static void Run()
    {
        Console.WriteLine("| chain | slots | points | slower than Optimal at their peak | largest gap | time |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var chain in new[] { Chain.Heterogeneous(60, 42), Chain.Heterogeneous(60, 7), Uniform(60) })
            foreach (int slots in new[] { 100, 200, 400 })
            {
                var watch = Stopwatch.StartNew();
                var frontier = ParetoFrontier.Compute(chain, slots);
                double seconds = watch.Elapsed.TotalSeconds;
                var gaps = frontier.Select(p => p.Time / Simulator.Run(chain, new Optimal(p.PeakBytes).Plan(chain)).Time - 1).ToList();
                Console.WriteLine($"| {chain.Name} | {slots} | {frontier.Count} | {gaps.Count(g => g > 1e-6)} | {gaps.Max():P2} | {seconds:F2} s |");
            }
        Console.WriteLine();
        Console.WriteLine("| chain | slots | frontier: median (range) of 3 | Optimal at the halfway budget: median (range) of 3 |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var chain in new[] { Chain.Heterogeneous(400, 42), Uniform(400) })
            foreach (int slots in new[] { 100, 200 })
            {
                long storeAll = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes, least = Optimal.MinimumBudget(chain);
                var frontier = new List<double>();
                var plan = new List<double>();
                for (int round = 0; round < 3; round++) // interleaved: frontier, plan, frontier, plan, ...
                {
                    frontier.Add(Seconds(() => ParetoFrontier.Compute(chain, slots)));
                    plan.Add(Seconds(() => new Optimal(least + (storeAll - least) / 2, slots).Plan(chain)));
                }
                Console.WriteLine($"| {chain.Name} | {slots} | {Summary(frontier)} | {Summary(plan)} |");
            }
    }

    private static Chain Uniform(int length) => Chain.Uniform(length, 32L << 20, 96L << 20, 1, 2);

    private static double Seconds(Action action)
    {
        var watch = Stopwatch.StartNew();
        action();
        return watch.Elapsed.TotalSeconds;
    }

    private static string Summary(List<double> seconds)
    {
        seconds.Sort();
        return $"{seconds[seconds.Count / 2]:F2} s ({seconds[0]:F2}-{seconds[^1]:F2})";
    }
}
