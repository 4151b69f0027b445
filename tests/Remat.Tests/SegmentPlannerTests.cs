using Remat.Planners;

namespace Remat.Tests;

public class SegmentPlannerTests
{
    [Fact]
    public void Periodic_cuts_like_checkpoint_sequential_with_the_last_segment_taking_the_rest()
    {
        // L = 10, 3 segments: size 10 / 3 = 3, so 1-3, 4-6 and 7-10.
        var chain = Chain.Uniform(10, 1, 2);
        var ops = new Periodic(3).Plan(chain).Ops;
        Assert.Equal("Fck(1) Fn(2) Fn(3) Fck(4) Fn(5) Fn(6) Fe(7) Fe(8) Fe(9) Fe(10) Loss B(10) B(9) B(8) B(7) " +
                     "Fe(4) Fe(5) Fe(6) B(6) B(5) B(4) Fe(1) Fe(2) Fe(3) B(3) B(2) B(1)", string.Join(" ", ops));
    }

    [Theory]
    [InlineData(16, 4)]
    [InlineData(10, 3)]
    [InlineData(2, 1)]
    [InlineData(50, 7)]
    public void Periodic_defaults_to_round_sqrt_L_segments_and_recomputes_each_but_the_last_once(int L, int n)
    {
        var chain = Chain.Uniform(L, 1, 2);
        Assert.Equal(n, new Periodic().SegmentsFor(L));
        var trace = Simulator.Run(chain, new Periodic().Plan(chain));
        Assert.Equal(L + (n - 1) * (L / n), trace.ForwardCount);
    }

    [Fact]
    public void Periodic_with_more_segments_than_stages_gives_one_stage_per_segment()
    {
        var chain = Chain.Uniform(4, 1, 2);
        Assert.Equal(new Periodic(4).Plan(chain).Ops, new Periodic(100).Plan(chain).Ops);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Periodic(0));
    }

    [Fact]
    public void Chen_closes_a_segment_where_the_running_size_exceeds_the_threshold()
    {
        // savedBytes 3, 3, 3, 3, 3 with B = 5: the running size passes 5 at stages 2 and 4.
        var chain = Chain.Uniform(5, 1, 3);
        Assert.Equal([1, 3, 5], ChenGreedy.Segmentation(chain, 5));
        Assert.Equal([1], ChenGreedy.Segmentation(chain, long.MaxValue));
    }

    [Fact]
    public void Chen_keeps_the_fastest_segmentation_within_the_budget_and_names_the_least_when_none_fits()
    {
        var chain = RandomChains.Make(new Random(5), 30, temps: false);
        long storeAll = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;
        var least = Simulator.Run(chain, new ChenGreedy().Plan(chain));
        Assert.True(least.PeakBytes < storeAll / 2, $"Chen's leanest plan peaks at {least.PeakBytes}, store-all at {storeAll}");
        var e = Assert.Throws<InfeasibleBudgetException>(() => new ChenGreedy(least.PeakBytes - 1).Plan(chain));
        Assert.Equal(least.PeakBytes, e.MinimumBytes);
        var fits = Simulator.Run(chain, new ChenGreedy(storeAll).Plan(chain));
        Assert.True(fits.PeakBytes <= storeAll);
        Assert.True(fits.Time <= least.Time);
    }
}
