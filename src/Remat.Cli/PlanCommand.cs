using System.CommandLine;
using Remat.Planners;

namespace Remat.Cli;

/// <summary><c>remat plan</c>: one strategy's schedule for a chain, as a summary or as the plan JSON.</summary>
internal static class PlanCommand
{
    public static Command Create(TextWriter output)
    {
        var source = new ChainSource();
        var strategies = new StrategyOptions();
        var strategy = new Option<string>("--strategy") { Description = "The planner.", DefaultValueFactory = _ => "optimal" };
        strategy.AcceptOnlyFromAmong(StrategyOptions.Names);
        var json = new Option<bool>("--json") { Description = "Print the plan JSON (docs/plan-format.md)." };
        var ops = new Option<bool>("--ops") { Description = "List the operations in the summary." };
        var html = new Option<string?>("--html") { Description = "Also write a self-contained HTML report of the plan (no network needed)." };
        var command = new Command("plan", "Plan a schedule for a chain and measure it with the simulator.");
        foreach (var o in source.All.Concat(strategies.All).Append(strategy).Append(json).Append(ops).Append(html))
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            var chain = source.Build(parse);
            string name = parse.GetValue(strategy)!;
            long? budget = parse.GetValue(strategies.Budget);
            var trace = Simulator.Run(chain, strategies.Create(name, chain, parse, budget).Plan(chain));
            if (budget is { } b && trace.PeakBytes > b)
                throw new UsageException(OverBudget(chain, name, trace.PeakBytes, b));
            long? reported = StrategyOptions.TakesBudget(name) ? budget : null;
            if (parse.GetValue(html) is { } file)
                Viz.HtmlReport.Write(file, Viz.VizApi.Describe(chain, trace, budget), Viz.VizApi.Tradeoff(chain));
            output.Write(parse.GetValue(json)
                ? PlanReport.Json(w => PlanReport.Json(w, chain, trace, reported)) + Environment.NewLine
                : PlanReport.Text(chain, trace, budget, parse.GetValue(ops)));
            return 0;
        });
        return command;
    }

    private static string OverBudget(Chain chain, string strategy, long peak, long budget)
    {
        string message = $"{strategy} peaks at {Size.Format(peak)} ({peak} bytes), over the budget of {Size.Format(budget)} ({budget} bytes).";
        if (chain.Length > Rotor.MaxStages)
            return message + " Raise --budget, or give revolve fewer --snapshots.";
        long min = Optimal.MinimumBudget(chain);
        return budget >= min
            ? message + $" --strategy optimal fits this budget (it works down to {Size.Format(min)})."
            : message + $" No schedule of Remat fits: the smallest budget that works is {Size.Format(min)} ({min} bytes).";
    }
}
