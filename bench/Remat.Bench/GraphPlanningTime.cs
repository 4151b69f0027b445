using System.Diagnostics;
using Remat.CpSat;

namespace Remat.Bench;

/// <summary>How long the CP-SAT graph planner takes to prove a plan optimal, or how far it got, on chains and the synthetic graphs (docs/benchmarks.md).</summary>
internal static class GraphPlanningTime
{
    public static void Run()
    {
        Console.WriteLine("| graph | nodes | budget (share of store-all's peak) | seconds | proven optimal | proven gap | overhead of the plan |");
        Console.WriteLine("|---|---:|---:|---:|---|---:|---:|");
        var graphs = new[]
        {
            ("heterogeneous chain", Graph.FromChain(Chain.Heterogeneous(16))),
            ("heterogeneous chain", Graph.FromChain(Chain.Heterogeneous(32))),
            ("ResNet, 4 blocks", GraphModels.ResNet(4)),
            ("U-Net, 2 levels", GraphModels.UNet(2)),
            ("U-Net, 3 levels", GraphModels.UNet(3)),
            ("U-Net, 5 levels", GraphModels.UNet(5)),
        };
        foreach (var (name, graph) in graphs)
        {
            long max = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
            foreach (double share in new[] { 0.5, 0.75, 1.0 })
            {
                var watch = Stopwatch.StartNew();
                string row;
                try
                {
                    var result = new GraphPlanner((long)(max * share), TimeSpan.FromSeconds(20)).Plan(graph);
                    row = $"{watch.Elapsed.TotalSeconds:F1} | {(result.Optimal ? "yes" : "no")} | {result.Gap:P1} | {result.Trace.Time / graph.BaselineTime - 1:P1}";
                }
                catch (RematException e)
                {
                    row = $"{watch.Elapsed.TotalSeconds:F1} | no plan: {e.Message} | | ";
                }
                Console.WriteLine($"| {name} | {graph.Count} | {share:P0} | {row} |");
            }
        }
    }
}
