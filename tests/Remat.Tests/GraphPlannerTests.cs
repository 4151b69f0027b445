using Google.OrTools.Sat;
using Remat.CpSat;
using Remat.Planners;

namespace Remat.Tests;

public class GraphPlannerTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public void On_chains_the_solver_finds_the_chain_optimum()
    {
        var rng = new Random(47);
        for (int trial = 0; trial < 150; trial++)
        {
            var chain = RandomChains.Make(rng, rng.Next(1, 7));
            var graph = Graph.FromChain(chain);
            long min = ExhaustiveSearch.MinimumPeak(chain);
            long solverMin = GraphPlanner.MinimumBudget(graph, Limit);
            Assert.True(solverMin == min, $"trial {trial}: the solver's least peak {solverMin} differs from the exhaustive {min}: " +
                string.Join(" ", new ExhaustiveSearch(min).Plan(chain).Ops) + " | " + string.Join(" ", chain.Stages));
            long budget = RandomChains.Between(rng, min, Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes);
            var exact = Simulator.Run(chain, new ExhaustiveSearch(budget).Plan(chain));
            var plan = new GraphPlanner(budget, Limit).Plan(graph);
            Assert.True(plan.Optimal, $"trial {trial}: not proven optimal");
            Assert.True(plan.Trace.PeakBytes <= budget && plan.Trace.Time == exact.Time,
                $"trial {trial}: the solver takes {plan.Trace.Time} at {plan.Trace.PeakBytes}, the exhaustive optimum {exact.Time} (budget {budget}): " +
                string.Join(" ", plan.Schedule.Ops) + " | " + string.Join(" ", exact.Schedule.Ops));
        }
    }

    [Fact]
    public void On_small_graphs_the_solver_finds_the_exhaustive_optimum()
    {
        var rng = new Random(53);
        for (int trial = 0; trial < 150; trial++)
        {
            var graph = GraphTests.RandomGraph(rng, rng.Next(2, 6));
            long min = GraphSearch.MinimumPeak(graph);
            long storeAll = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
            long budget = RandomChains.Between(rng, min, storeAll);
            var exact = GraphSimulator.Run(graph, GraphSearch.Plan(graph, budget)!);
            var plan = new GraphPlanner(budget, Limit).Plan(graph);
            Assert.True(plan.Trace.PeakBytes <= budget && plan.Trace.Time == exact.Time,
                $"trial {trial}: the solver takes {plan.Trace.Time} at {plan.Trace.PeakBytes}, the exhaustive optimum {exact.Time} (budget {budget}): " +
                string.Join(" ", plan.Schedule.Ops) + " | " + string.Join(" ", exact.Schedule.Ops) + " inputs " +
                string.Join(";", Enumerable.Range(1, graph.Count).Select(v => string.Join(",", graph.Inputs(v)))));
        }
    }

    [Fact]
    public void Every_schedule_the_model_gives_is_a_complete_hint_that_the_model_accepts_as_it_is()
    {
        // The hint replays a schedule stage by stage; with every variable fixed to its hinted value, a wrong stage for
        // any operation (a recomputation before a first forward, a free as a stage opens) leaves no solution.
        var rng = new Random(59);
        var graphs = Enumerable.Range(0, 60).Select(_ => GraphTests.RandomGraph(rng, rng.Next(2, 7))).Append(GraphModels.UNet(2)).ToList();
        foreach (var (graph, trial) in graphs.Select((g, i) => (g, i)))
        {
            long storeAll = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
            long budget = graph.Count <= 6 ? RandomChains.Between(rng, GraphSearch.MinimumPeak(graph), storeAll) : storeAll * 3 / 4;
            foreach (int? window in new int?[] { null, 1 })
            {
                var model = new StagedModel(graph, budget, window);
                var solver = new CpSolver { StringParameters = "max_time_in_seconds:5 num_workers:8 random_seed:1" };
                var status = solver.Solve(model.Model);
                if (status is not (CpSolverStatus.Optimal or CpSolverStatus.Feasible))
                    continue; // the local model may have no schedule at a tight budget
                AssertTakenAsItIs(graph, budget, model.Schedule(solver, "cpsat"), $"trial {trial} (window {window}), the model's own schedule");
            }
        }
    }

    /// <summary>The whole model, hinted with <paramref name="schedule"/> and every variable fixed to its hint, has a solution, and it is that schedule.</summary>
    private static void AssertTakenAsItIs(Graph graph, long budget, Schedule schedule, string what)
    {
        var hinted = new StagedModel(graph, budget);
        hinted.Hint(schedule);
        var check = new CpSolver { StringParameters = "max_time_in_seconds:20 num_workers:1 fix_variables_to_their_hinted_value:true" };
        var status = check.Solve(hinted.Model);
        Assert.True(status is CpSolverStatus.Optimal or CpSolverStatus.Feasible,
            $"{what}: the model rejects it as a hint ({status}): " + string.Join(" ", schedule.Ops));
        var replayed = hinted.Schedule(check, "cpsat");
        Assert.True(GraphSimulator.Run(graph, replayed).Time == GraphSimulator.Run(graph, schedule).Time,
            $"{what}: the hinted solution is another schedule: " + string.Join(" ", schedule.Ops) + " | " + string.Join(" ", replayed.Ops));
    }

    [Fact]
    public void The_chain_program_across_blocks_is_a_complete_hint_that_the_model_accepts_as_it_is()
    {
        // The planner starts from the block plan where it is the faster start; a hint the model cannot take is dropped.
        var rng = new Random(61);
        var graphs = Enumerable.Range(0, 20).Select(_ => GraphBlocksTests.LocalGraph(rng, rng.Next(2, 12), 2)).Append(GraphModels.ResNet(2)).ToList();
        int hints = 0;
        foreach (var (graph, trial) in graphs.Select((g, i) => (g, i)))
        {
            long least = Optimal.MinimumBudget(GraphBlocks.AtCuts(graph).Chain), storeAll = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
            long budget = RandomChains.Between(rng, least, storeAll - 1);
            if (least >= storeAll || GraphBlocks.Fastest(graph, budget) is not { } schedule)
                continue;
            hints++;
            AssertTakenAsItIs(graph, budget, schedule, $"trial {trial}, the block plan");
        }
        Assert.True(hints >= 10, $"only {hints} of {graphs.Count} graphs had a block plan below store-all's peak");
    }

    [Theory]
    [InlineData(1L << 20)] // below what any node needs: proven infeasible at once
    [InlineData(60L << 20)] // below the least peak of the plans made without the solver
    public void A_budget_nothing_fits_is_refused_with_a_budget_that_plans(long budget)
    {
        var graph = GraphModels.UNet(2);
        var error = Assert.ThrowsAny<RematException>(() => new GraphPlanner(budget, TimeSpan.FromSeconds(5)).Plan(graph));
        // The message names a budget that plans at once, as its last figure in bytes (before it, the least peak found).
        var named = System.Text.RegularExpressions.Regex.Matches(error.Message, @"\((\d+) bytes\)");
        Assert.True(named.Count > 0, $"the error names no budget in bytes: {error.Message}");
        long suggested = long.Parse(named[^1].Groups[1].Value);
        Assert.True(suggested > budget, $"the error names {suggested} bytes, not above the budget {budget} that failed: {error.Message}");
        if (error is InfeasibleBudgetException infeasible)
            Assert.True(infeasible.MinimumBytes > budget && infeasible.MinimumBytes <= suggested,
                $"the least peak found, {infeasible.MinimumBytes} bytes, is not between the budget {budget} and the budget that plans at once {suggested}");
        var plan = new GraphPlanner(suggested, TimeSpan.FromSeconds(5)).Plan(graph);
        Assert.True(plan.Trace.PeakBytes <= suggested, $"the budget the error named, {suggested} bytes, planned a peak of {plan.Trace.PeakBytes}");
    }

    [Theory]
    // Every model of a 1,000-stage chain has at least 3 million variables: the chain program took 11 s on it, and then
    // its whole model (9 million) was built and handed to CP-SAT (the 400-stage chain's 1.5 million took 40 s and 5 GB
    // of a 60-second limit, to find nothing). The whole model of a 300-stage chain is smaller but takes seconds to
    // build: with a 3-second limit it was built anyway and loaded with no time to solve, and the plan took 22 s.
    [InlineData(1000, 60, true, 30)]
    [InlineData(300, 3, false, 10)]
    public void A_model_too_large_or_too_slow_to_build_is_left_out_and_the_first_plan_comes_back_in_time(int stages, int limit, bool tooLarge, int within)
    {
        var graph = Graph.FromChain(Chain.Heterogeneous(stages));
        long budget = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes / 2;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var plan = new GraphPlanner(budget, TimeSpan.FromSeconds(limit)).Plan(graph);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(within), $"a {limit}-second plan took {watch.Elapsed.TotalSeconds:F1} s: the model was built or solved after all");
        Assert.True(plan.TooLarge == tooLarge, $"the {stages}-stage chain's model is reported too large: {plan.TooLarge}, expected {tooLarge}");
        Assert.True(!plan.Optimal && double.IsNaN(plan.Gap), $"a plan the solver never saw is reported optimal {plan.Optimal} with gap {plan.Gap}");
        Assert.True(plan.Trace.PeakBytes <= budget, $"the first plan peaks at {plan.Trace.PeakBytes}, over the budget {budget}");
    }

    [Fact]
    public void A_cancelled_plan_stops_the_solver_at_once()
    {
        var graph = GraphModels.UNet(5);
        long budget = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes / 2;
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => new GraphPlanner(budget, TimeSpan.FromSeconds(60)).Plan(graph, cancellation.Token));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"a plan cancelled after 3 s of 60 stopped after {watch.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void A_small_graph_is_proven_optimal_within_a_limit_of_a_second()
    {
        // The margin for a solve's overrun was a whole second, so a limit of a second left the solver no time at all.
        var rng = new Random(59);
        for (int trial = 0; trial < 10; trial++)
        {
            var graph = GraphTests.RandomGraph(rng, rng.Next(2, 6));
            long budget = RandomChains.Between(rng, GraphSearch.MinimumPeak(graph), GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes);
            var plan = new GraphPlanner(budget, TimeSpan.FromSeconds(1)).Plan(graph);
            Assert.True(plan.Optimal, $"trial {trial}: a graph of {graph.Count} nodes is not proven optimal within a second (gap {plan.Gap})");
        }
    }

    [Fact]
    public void Every_model_has_at_least_the_variables_that_refuse_a_graph_before_building()
    {
        // The planner begins no model of a graph whose least count passes its cap, so the count must never be more than a real model has.
        foreach (var graph in new[] { GraphModels.UNet(2), GraphModels.ResNet(2), Graph.FromChain(Chain.Heterogeneous(20)) })
            foreach (int? window in new int?[] { 1, 2, 3, null })
            {
                long built = new StagedModel(graph, GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes / 2, window).Model.Model.Variables.Count;
                Assert.True(StagedModel.LeastVariables(graph.Count) <= built,
                    $"{graph.Name} ({graph.Count} nodes), window {window?.ToString() ?? "none"}: {built} variables, fewer than the least count {StagedModel.LeastVariables(graph.Count)}");
            }
    }
}
