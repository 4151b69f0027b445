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
}
