using Remat.CpSat;

namespace Remat.Tests;

/// <summary>One registry and one call plan chains and graphs: <see cref="Planner.Plan(Graph, PlanOptions?, CancellationToken)"/>.</summary>
public class GraphStrategyTests
{
    [Fact]
    public void A_graph_that_is_a_chain_gets_the_plans_of_its_chain_from_every_strategy()
    {
        var chain = Chain.Heterogeneous(12, seed: 3);
        long budget = Planner.Plan(chain, new PlanOptions { Strategy = "storeall" }).PeakBytes * 3 / 5;
        foreach (var name in Strategies.Names)
        {
            var options = new PlanOptions { Strategy = name, BudgetBytes = Strategies.Get(name).TakesBudget ? budget : null };
            var asChain = Planner.Plan(chain, options);
            var asGraph = Planner.Plan(Graph.FromChain(chain), options);
            Assert.True(asChain.Schedule.Ops.SequenceEqual(asGraph.Schedule.Ops), $"{name}: the chain's graph was planned otherwise than the chain");
            Assert.Same(chain.Stages[0], asGraph.Chain!.Stages[0]);
        }
    }

    [Theory]
    [InlineData("storeall")]
    [InlineData("periodic")]
    [InlineData("optimal")]
    public void A_graph_strategy_plans_a_graph_valid_under_the_graph_simulator_and_within_the_budget(string name)
    {
        GraphPlanner.Register();
        var graph = GraphModels.UNet(2);
        long storeAll = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
        long? budget = name == "optimal" ? storeAll * 7 / 10 : null;
        var plan = Planner.Plan(graph, new PlanOptions { Strategy = name, BudgetBytes = budget, TimeLimit = TimeSpan.FromSeconds(10) });
        Assert.Null(plan.Chain);
        Assert.Same(graph, plan.Graph);
        Assert.Equal(GraphSimulator.Run(graph, plan.Schedule).PeakBytes, plan.PeakBytes);
        Assert.True(plan.PeakBytes <= (budget ?? storeAll), $"{name} peaks at {plan.PeakBytes} bytes, over {budget ?? storeAll}");
        if (name == "optimal") // a loaded machine may leave the solver no time to prove anything; then it says so
            Assert.True(plan.Gap is >= 0 || plan.Remark is not null, "the solver's plan says what it proved, or why it proved nothing");
    }

    [Fact]
    public void A_chain_strategy_asked_for_a_graph_is_refused_naming_the_strategies_that_plan_it()
    {
        var e = Assert.Throws<StrategyRefusedException>(() => Planner.Plan(GraphModels.UNet(2), new PlanOptions { Strategy = "revolve" }));
        Assert.Contains("revolve plans chains", e.Message);
        Assert.Equal("revolve", e.Strategy);
        Assert.Equal(["storeall", "periodic"], e.Strategies.Take(2));
    }

    [Fact]
    public void A_graph_over_the_budget_is_refused_with_its_peak()
    {
        var graph = GraphModels.UNet(2);
        var e = Assert.Throws<InfeasibleBudgetException>(() => Planner.Plan(graph, new PlanOptions { Strategy = "storeall", BudgetBytes = 1000 }));
        Assert.Equal(GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes, e.MinimumBytes);
    }

    [Fact]
    public void Registering_a_strategy_again_replaces_it_and_keeps_its_place()
    {
        var before = Strategies.Names;
        GraphPlanner.Register();
        GraphPlanner.Register();
        Assert.Equal(before, Strategies.Names);
        Assert.NotNull(Strategies.Get("optimal").PlanGraph);
    }
}
