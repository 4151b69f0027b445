using System.CommandLine;
using System.Text;
using Remat.Planners;

namespace Remat.Cli;

/// <summary><c>remat compare</c>: every strategy side by side at one budget, against the Pareto frontier.</summary>
internal static class CompareCommand
{
    /// <summary>The longest chain compare takes: it plans every strategy and one frontier table.</summary>
    public const int MaxStages = 200;

    public static Command Create(TextWriter output)
    {
        var source = new ChainSource();
        var strategies = new StrategyOptions();
        var points = Options.Count("--points", "Frontier points listed, spread over its peaks (default 16).", 2);
        var html = new Option<string?>("--html") { Description = "Also write a self-contained HTML report (optimal at the budget, against every strategy)." };
        var command = new Command("compare", "Compare every strategy at a budget, and show the memory/time frontier.");
        foreach (var o in source.All.Concat(strategies.All).Append(points).Append(html))
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            var chain = source.Build(parse);
            if (chain.Length > MaxStages)
                throw new UsageException($"compare plans the whole frontier, for chains of up to {MaxStages} stages; " +
                                         $"this one has {chain.Length}. Use remat plan for longer chains.");
            int slots = parse.GetValue(strategies.Slots) ?? Optimal.DefaultSlots;
            long storeAll = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;
            long min = Optimal.MinimumBudget(chain);
            long budget = parse.GetValue(strategies.Budget) ?? min + (storeAll - min) / 2;
            var rows = new List<(string Name, Trace? Trace, long Minimum)>();
            foreach (var strategy in Strategies.All)
            {
                string name = strategy.Name;
                try
                {
                    rows.Add((name, Simulator.Run(chain, strategy.Create(chain, strategies.For(name, parse, budget), budget).Plan(chain)), 0));
                }
                catch (InfeasibleBudgetException e)
                {
                    rows.Add((name, null, e.MinimumBytes));
                }
            }
            var frontier = ParetoFrontier.Compute(chain, slots,
                rows.Where(r => r.Trace is not null).Select(r => r.Trace!.PeakBytes));
            var sb = new StringBuilder();
            sb.AppendLine($"chain: {chain.Length} stages, store-all peak {ByteSize.Format(storeAll)}, smallest feasible budget {ByteSize.Format(min)}");
            sb.AppendLine($"budget: {ByteSize.Format(budget)}" + (parse.GetValue(strategies.Budget) is null ? " (halfway; set it with --budget)" : ""));
            sb.AppendLine();
            sb.AppendLine($"{"strategy",-10} {"peak",12} {"time",10} {"overhead",9} {"forwards",9}  {"budget",-6} {"vs frontier",11}");
            foreach (var (name, trace, minimum) in rows)
            {
                if (trace is null)
                {
                    sb.AppendLine($"{name,-10} needs at least {ByteSize.Format(minimum)}");
                    continue;
                }
                double? best = ParetoFrontier.TimeAt(frontier, trace.PeakBytes);
                string gap = best is { } t && t > 0 ? PlanReport.Overhead(trace.Time, t) : "-";
                sb.AppendLine($"{name,-10} {ByteSize.Format(trace.PeakBytes),12} {PlanReport.Num(trace.Time),10} " +
                              $"{PlanReport.Overhead(trace.Time, chain.BaselineTime),9} {trace.ForwardCount,9}  {(trace.PeakBytes <= budget ? "fits" : "over"),-6} {gap,11}");
            }
            sb.AppendLine();
            sb.AppendLine("frontier (optimal at each budget):");
            sb.AppendLine($"{"peak",12} {"time",10} {"overhead",9}");
            int shown = Math.Min(frontier.Count, parse.GetValue(points) ?? 16);
            foreach (var p in Enumerable.Range(0, shown).Select(i => frontier[shown == 1 ? 0 : (int)Math.Round((double)i * (frontier.Count - 1) / (shown - 1))]))
                sb.AppendLine($"{ByteSize.Format(p.PeakBytes),12} {PlanReport.Num(p.Time),10} {PlanReport.Overhead(p.Time, chain.BaselineTime),9}");
            output.Write(sb.ToString());
            if (parse.GetValue(html) is { } file && rows.Single(r => r.Name == "optimal").Trace is { } optimal)
                Viz.HtmlReport.Write(file, Viz.VizApi.Describe(chain, optimal, budget), Viz.VizApi.Tradeoff(chain));
            return 0;
        });
        return command;
    }
}
