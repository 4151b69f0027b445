using System.CommandLine;
using System.Globalization;

namespace Remat.Cli;

/// <summary>
/// <c>remat plan --graph</c>: a graph file or one of the synthetic graphs, planned by the registry's optimal strategy
/// (the CP-SAT solver, within a time limit, for a graph that is not a chain).
/// </summary>
internal sealed class GraphSource
{
    public Option<string?> File { get; } = new("--graph")
    {
        Description = "Plan a graph: a graph file (a chain file whose stages list their inputs, docs/chain-format.md), " +
                      "or 'unet' or 'resnet' for the synthetic layer-level graphs. Planned by --strategy: storeall, periodic, or optimal " +
                      "(CP-SAT for a graph that is not a chain; docs/planners.md).",
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

    /// <summary>
    /// Plans the graph of <paramref name="spec"/> with <paramref name="strategy"/> (the registry's: optimal is CP-SAT's
    /// for a graph that is not a chain) within <paramref name="budget"/>, and writes the summary or the plan JSON.
    /// </summary>
    public int Plan(ParseResult parse, string spec, string strategy, PlanOptions options, bool json, bool ops, TextWriter output, CancellationToken cancellation)
    {
        double seconds = parse.GetValue(TimeLimit);
        if (!(seconds > 0 && seconds <= 86_400))
            throw new UsageException($"--time-limit {seconds.ToString(CultureInfo.InvariantCulture)}: give the solver between 0 and 86400 seconds.");
        var graph = Build(spec);
        bool solver = strategy == "optimal" && !graph.IsChain;
        if (solver && options.BudgetBytes is null)
            throw new UsageException(
                $"--graph plans to a memory budget; give --budget (store-all peaks at {ByteSize.Format(GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes)}).");
        var plan = Planner.Plan(graph, options with { Strategy = strategy, TimeLimit = TimeSpan.FromSeconds(seconds) }, cancellation);
        string? proof = !solver ? null
            : plan.Gap == 0 ? "optimal (proven)"
            : plan.Remark is { } remark ? $"the best plan of the local models, block plans and segmentations ({remark})"
            : $"best found in {seconds.ToString(CultureInfo.InvariantCulture)} s, within {PlanReport.Percent(plan.Gap ?? 0)[1..]} of the optimum (proven)";
        long? budget = Strategies.Get(strategy).TakesBudget ? options.BudgetBytes : null;
        output.Write(json
            ? PlanReport.Json(w => PlanReport.Json(w, graph.Count, graph.BaselineTime, plan.Trace, budget, extra =>
            {
                extra.WriteBoolean("graph", true);
                if (!solver)
                    return;
                extra.WriteBoolean("optimal", plan.Gap == 0);
                if (plan.Gap is { } gap) extra.WriteNumber("gap", gap); else extra.WriteNull("gap");
                extra.WriteBoolean("tooLarge", plan.Remark == CpSat.GraphPlanner.TooLargeRemark);
            })) + Environment.NewLine
            : PlanReport.Text(graph.Count, graph.BaselineTime, plan.Trace, options.BudgetBytes, ops, proof));
        return 0;
    }
}
