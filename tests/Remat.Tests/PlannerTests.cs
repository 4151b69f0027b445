using Remat.Planners;

namespace Remat.Tests;

/// <summary>Planning in one call: the options, the registry, and the errors that name the fix.</summary>
public class PlannerTests
{
    private static readonly Chain Chain = Chain.Uniform(12, 1 << 20, 3 << 20, 1, 2);

    private static long StoreAllPeak => Simulator.Run(Chain, new StoreAll().Plan(Chain)).PeakBytes;

    [Fact]
    public void A_budget_fraction_is_that_share_of_store_alls_peak_and_the_plan_fits_it()
    {
        var plan = Planner.Plan(Chain, new PlanOptions { BudgetFraction = 0.5 });
        Assert.Equal("optimal", plan.Strategy);
        Assert.Equal((long)(0.5 * StoreAllPeak), plan.BudgetBytes);
        Assert.True(plan.PeakBytes <= plan.BudgetBytes, $"the plan peaks at {plan.PeakBytes}, over its budget {plan.BudgetBytes}");
        Assert.Equal(Simulator.Run(Chain, plan.Schedule).Time, plan.Time);
    }

    [Fact]
    public void Every_registered_strategy_plans_through_the_one_call()
    {
        foreach (var strategy in Strategies.All)
        {
            var plan = Planner.Plan(Chain, new PlanOptions { Strategy = strategy.Name, BudgetBytes = StoreAllPeak });
            Assert.Equal(strategy.Name, plan.Strategy);
            Assert.True(plan.PeakBytes <= StoreAllPeak, $"{strategy.Name} peaks over store-all's peak");
        }
        Assert.Equal(["storeall", "periodic", "revolve", "chen", "selective", "optimal"], Strategies.Names);
    }

    [Fact]
    public void Bad_options_are_refused_with_a_message_that_names_the_fix()
    {
        var unknown = Assert.Throws<RematException>(() => Planner.Plan(Chain, new PlanOptions { Strategy = "fastest" }));
        Assert.Contains("storeall, periodic, revolve, chen, selective, optimal", unknown.Message);
        var both = Assert.Throws<RematException>(() => Planner.Plan(Chain, new PlanOptions { BudgetBytes = 1 << 30, BudgetFraction = 0.5 }));
        Assert.Contains("not both", both.Message);
        Assert.Throws<RematException>(() => Planner.Plan(Chain, new PlanOptions { BudgetFraction = 1.5 }));
        var none = Assert.Throws<RematException>(() => Planner.Plan(Chain));
        Assert.Contains("smallest that works", none.Message);
    }

    [Fact]
    public void A_strategy_over_the_budget_names_the_smallest_budget_and_the_strategy_that_fits()
    {
        long min = Optimal.MinimumBudget(Chain);
        var over = Assert.Throws<InfeasibleBudgetException>(() =>
            Planner.Plan(Chain, new PlanOptions { Strategy = "storeall", BudgetBytes = min }));
        Assert.Contains("The optimal strategy fits this budget", over.Message);
        Assert.Equal(min, over.MinimumBytes);
        var below = Assert.Throws<InfeasibleBudgetException>(() => Planner.Plan(Chain, new PlanOptions { BudgetBytes = min - 1 }));
        Assert.Equal(min, below.MinimumBytes);
    }

    [Fact]
    public void Revolve_without_snapshots_takes_the_most_that_fit_the_budget()
    {
        long budget = Simulator.Run(Chain, new Revolve(3).Plan(Chain)).PeakBytes;
        var plan = Planner.Plan(Chain, new PlanOptions { Strategy = "revolve", BudgetBytes = budget });
        Assert.True(plan.PeakBytes <= budget);
        Assert.True(Simulator.Run(Chain, new Revolve(4).Plan(Chain)).PeakBytes > budget || plan.Time <= Simulator.Run(Chain, new Revolve(4).Plan(Chain)).Time,
            "with room for more snapshots, revolve must take them");
        Assert.Equal(Simulator.Run(Chain, new Revolve(3).Plan(Chain)).Time, plan.Time);
    }
}
