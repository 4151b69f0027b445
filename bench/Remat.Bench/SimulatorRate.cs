using System.Diagnostics;
using Remat.Planners;

namespace Remat.Bench;

/// <summary>Operations the simulator replays per second: 40 Revolve schedules on a 2,000-stage chain, median of 20 rounds (docs/benchmarks.md).</summary>
internal static class SimulatorRate
{
    public static void Run()
    {
        var chain = Chain.Uniform(2000, 1 << 20, 3 << 20);
        var schedules = Enumerable.Range(1, 40).Select(s => new Revolve(s).Plan(chain)).ToArray();
        long ops = schedules.Sum(s => (long)s.Ops.Count);
        var rates = new List<double>();
        for (int round = 0; round < 20; round++)
        {
            var watch = Stopwatch.StartNew();
            foreach (var s in schedules)
                Simulator.Run(chain, s);
            rates.Add(ops / watch.Elapsed.TotalSeconds / 1e6);
        }
        rates.Sort();
        Console.WriteLine($"{ops} operations per round: median {rates[10]:F1} M ops/s (range {rates[0]:F1}-{rates[^1]:F1})");
    }
}
