using System.CommandLine;

namespace Remat.Cli;

/// <summary><c>remat plan</c>: one strategy's schedule for a chain, as a summary or as the plan JSON.</summary>
internal static class PlanCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var source = new ChainSource();
        var graphs = new GraphSource();
        var strategies = new StrategyOptions();
        var strategy = new Option<string>("--strategy") { Description = "The planner.", DefaultValueFactory = _ => "optimal" };
        strategy.AcceptOnlyFromAmong([.. Strategies.Names]);
        var json = new Option<bool>("--json") { Description = "Print the plan JSON (docs/chain-format.md)." };
        var ops = new Option<bool>("--ops") { Description = "List the operations in the summary." };
        var html = new Option<string?>("--html") { Description = "Also write a self-contained HTML report of the plan (no network needed)." };
        var command = new Command("plan", "Plan a schedule for a chain (or a graph, with --graph) and measure it with the simulator.");
        foreach (var o in source.All.Concat(graphs.All).Concat(strategies.All).Append(strategy).Append(json).Append(ops).Append(html))
            command.Options.Add(o);
        // The plan runs on its own task, so that Ctrl-C reaches the cancellation token while the solver runs.
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            string name = parse.GetValue(strategy)!;
            long? budget = parse.GetValue(strategies.Budget);
            if (parse.GetValue(graphs.File) is { } graph)
            {
                if (parse.GetValue(source.File) is not null || parse.GetValue(source.Layers) is not null)
                    throw new UsageException("give either --graph or a chain (--chain, --layers), not both.");
                if (parse.GetValue(html) is not null)
                    throw new UsageException("--html reports a chain's plan; leave it out with --graph.");
                try
                {
                    return graphs.Plan(parse, graph, name, strategies.For(name, parse, budget), parse.GetValue(json), parse.GetValue(ops), output, cancellation);
                }
                catch (OperationCanceledException)
                {
                    return Cli.Stopped(error, "no plan was written");
                }
            }
            if (parse.GetResult(graphs.TimeLimit) is { Implicit: false })
                throw new UsageException("--time-limit is for --graph; a chain is planned by the dynamic program.");
            var chain = source.Build(parse);
            var trace = Planner.Plan(chain, strategies.For(name, parse, budget)).Trace;
            long? reported = Strategies.Get(name).TakesBudget ? budget : null;
            if (parse.GetValue(html) is { } file)
                Viz.HtmlReport.Write(file, Viz.VizApi.Describe(chain, trace, budget), Viz.VizApi.Tradeoff(chain));
            output.Write(parse.GetValue(json)
                ? PlanReport.Json(w => PlanReport.Json(w, chain.Length, chain.BaselineTime, trace, reported)) + Environment.NewLine
                : PlanReport.Text(chain.Length, chain.BaselineTime, trace, budget, parse.GetValue(ops)));
            return 0;
        }, CancellationToken.None));
        return command;
    }
}
