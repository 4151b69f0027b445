using System.CommandLine;
using System.Globalization;

namespace Remat.Cli;

/// <summary>
/// <c>remat plan --graph</c>: a graph file or one of the synthetic graphs, planned exactly by the CP-SAT solver
/// within a time limit.
/// </summary>
internal sealed class GraphSource
{
    public Option<string?> File { get; } = new("--graph")
    {
        Description = "Plan a graph: a graph file (a chain file whose stages list their inputs, docs/chain-format.md), " +
                      "or 'unet' or 'resnet' for the synthetic layer-level graphs. Solved with CP-SAT (docs/planners.md).",
    };

    public Option<double> TimeLimit { get; } = new("--time-limit")
    {
        Description = "--graph: the seconds the whole plan may take, solver included (default 60); the best plan found and its proven gap are printed.",
        DefaultValueFactory = _ => 60,
    };

    public IEnumerable<Option> All => [File, TimeLimit];

    public Graph Build(string spec) => spec switch
    {
        "unet" => GraphModels.UNet(),
        "resnet" => GraphModels.ResNet(),
        _ => ChainJson.LoadGraph(spec),
    };

    /// <summary>Plans the graph of <paramref name="spec"/> within <paramref name="budget"/> and writes the summary or the plan JSON.</summary>
    public int Plan(ParseResult parse, string spec, long? budget, bool json, bool ops, TextWriter output, CancellationToken cancellation)
    {
        double seconds = parse.GetValue(TimeLimit);
        if (!(seconds > 0 && seconds <= 86_400))
            throw new UsageException($"--time-limit {seconds.ToString(CultureInfo.InvariantCulture)}: give the solver between 0 and 86400 seconds.");
        var graph = Build(spec);
        if (budget is not { } b)
            throw new UsageException(
                $"--graph plans to a memory budget; give --budget (store-all peaks at {ByteSize.Format(GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes)}).");
        var result = new CpSat.GraphPlanner(b, TimeSpan.FromSeconds(seconds)).Plan(graph, cancellation);
        string proof = result.Optimal ? "optimal (proven)"
            : result.TooLarge ? "the best plan of the local models, block plans and segmentations (the solver's model of this graph passes a million variables, so nothing is proven; a graph of fewer nodes, such as whole blocks, gets it)"
            : double.IsNaN(result.Gap) ? $"the best plan of the local models, block plans and segmentations (the solver proved nothing in {seconds.ToString(CultureInfo.InvariantCulture)} s; give it more time)"
            : $"best found in {seconds.ToString(CultureInfo.InvariantCulture)} s, within {PlanReport.Percent(result.Gap)[1..]} of the optimum (proven)";
        output.Write(json
            ? PlanReport.Json(w => PlanReport.Json(w, graph.Count, graph.BaselineTime, result.Trace, b, extra =>
            {
                extra.WriteBoolean("graph", true);
                extra.WriteBoolean("optimal", result.Optimal);
                if (double.IsNaN(result.Gap)) extra.WriteNull("gap"); else extra.WriteNumber("gap", result.Gap);
                extra.WriteBoolean("tooLarge", result.TooLarge);
            })) + Environment.NewLine
            : PlanReport.Text(graph.Count, graph.BaselineTime, result.Trace, b, ops, proof));
        return 0;
    }
}
