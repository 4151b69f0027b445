using System.Diagnostics;
using Remat.CpSat;

namespace Remat.Bench;

/// <summary>How long the CP-SAT graph planner takes to prove a plan optimal, or how far it got, on chains and the synthetic graphs (docs/benchmarks.md).</summary>
internal static class GraphPlanningTime
{
    /// <summary>Chains, a small ResNet and U-Nets of 2, 3 and 5 levels at half, three quarters and all of store-all's peak, 20 s each.</summary>
    public static void Run() => Table(
        [
            ("heterogeneous chain", Graph.FromChain(Chain.Heterogeneous(16))),
            ("heterogeneous chain", Graph.FromChain(Chain.Heterogeneous(32))),
            ("ResNet, 4 blocks", GraphModels.ResNet(4)),
            ("U-Net, 2 levels", GraphModels.UNet(2)),
            ("U-Net, 3 levels", GraphModels.UNet(3)),
            ("U-Net, 5 levels", GraphModels.UNet(5)),
        ], [0.5, 0.75, 1.0], seconds: 20);

    /// <summary>The issue's graphs, the 60-node U-Net and the 152-node ResNet, at half and three quarters of store-all's peak.</summary>
    public static void Goal(int seconds) => Table(
        [("U-Net, 5 levels", GraphModels.UNet(5)), ("ResNet, 21 blocks", GraphModels.ResNet(21))], [0.5, 0.75], seconds);

    /// <summary>
    /// One graph at one budget, the single runs of docs/benchmarks.md: <c>unet</c> with <paramref name="size"/> levels,
    /// <c>resnet</c> with that many blocks, or a heterogeneous <c>chain</c> of that many stages.
    /// </summary>
    public static void One(string kind, int size, double share, int seconds) => Table(
        [kind switch
        {
            "unet" => ($"U-Net, {size} levels", GraphModels.UNet(size)),
            "resnet" => ($"ResNet, {size} blocks", GraphModels.ResNet(size)),
            "chain" => ("heterogeneous chain", Graph.FromChain(Chain.Heterogeneous(size))),
            _ => throw new ArgumentException($"unknown graph '{kind}': unet, resnet or chain"),
        }], [share], seconds);

    private static void Table((string Name, Graph Graph)[] graphs, double[] shares, int seconds)
    {
        Console.WriteLine($"| graph | nodes | budget (share of store-all's peak) | seconds (limit {seconds}) | proven optimal | proven gap | overhead of the plan |");
        Console.WriteLine("|---|---:|---:|---:|---|---:|---:|");
        foreach (var (name, graph) in graphs)
        {
            long max = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
            foreach (double share in shares)
            {
                var watch = Stopwatch.StartNew();
                string row;
                try
                {
                    var result = new GraphPlanner((long)(max * share), TimeSpan.FromSeconds(seconds)).Plan(graph);
                    row = $"{watch.Elapsed.TotalSeconds:F1} | {(result.Optimal ? "yes" : result.TooLarge ? "no (model too large)" : "no")} | {result.Gap:P1} | {result.Trace.Time / graph.BaselineTime - 1:P2}";
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
