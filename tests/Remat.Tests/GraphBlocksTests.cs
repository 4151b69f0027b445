using Remat.Planners;

namespace Remat.Tests;

public class GraphBlocksTests
{
    /// <summary>A random graph whose extra inputs are at most <paramref name="reach"/> nodes back, so that it has cuts.</summary>
    internal static Graph LocalGraph(Random rng, int count, int reach)
    {
        var chain = RandomChains.Make(rng, count);
        var inputs = Enumerable.Range(1, count).Select(v =>
        {
            var ins = new SortedSet<int> { v - 1 };
            if (v > 1 && rng.Next(3) == 0)
                ins.Add(Math.Max(0, v - 1 - rng.Next(1, reach + 1)));
            return (IReadOnlyList<int>)ins.ToArray();
        });
        return new Graph(chain.InputBytes, chain.Stages, inputs, "local");
    }

    private static long StoreAllPeak(Chain chain) => Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;

    [Fact]
    public void A_chain_is_its_own_block_chain_every_way_and_its_schedules_expand_to_themselves()
    {
        var rng = new Random(71);
        for (int trial = 0; trial < 100; trial++)
        {
            var chain = RandomChains.Make(rng, rng.Next(1, 12));
            var graph = Graph.FromChain(chain);
            long budget = RandomChains.Between(rng, Optimal.MinimumBudget(chain), StoreAllPeak(chain));
            var schedule = new Optimal(budget).Plan(chain);
            foreach (var blocks in new[] { GraphBlocks.AtCuts(graph), GraphBlocks.PerNode(graph), GraphBlocks.PerNodeKeepingSkips(graph) })
            {
                Assert.Equal(chain.Length, blocks.Chain.Length);
                for (int k = 1; k <= chain.Length; k++)
                    Assert.True(chain[k] with { Name = "" } == blocks.Chain[k] with { Name = "" }, $"trial {trial}: stage {k} is {blocks.Chain[k]}, not {chain[k]}");
                Assert.Equal(schedule.Ops, blocks.Expand(schedule).Ops);
            }
        }
    }

    [Fact]
    public void A_ResNet_is_cut_after_each_residual_add_and_each_block_and_a_UNet_only_in_its_first_level()
    {
        // The stem's three nodes, then per block conv1 .. add (the residual reads the block's input) and relu2, then pool and fc.
        var resnet = GraphBlocks.AtCuts(GraphModels.ResNet(21));
        Assert.Equal(3 + 2 * 21 + 2, resnet.Chain.Length);
        Assert.Equal("nodes 4-9", resnet.Chain[4].Name);
        // The U-Net's first level's four nodes, then everything up to the first level's concat, then its decoder and head.
        var unet = GraphBlocks.AtCuts(GraphModels.UNet(3));
        Assert.Equal([1, 2, 3, 4, 33, 34, 35, 36, 37, 38], unet.Ends);
        Assert.Equal(GraphModels.UNet(3).Count, GraphBlocks.PerNode(GraphModels.UNet(3)).Chain.Length);
    }

    [Fact]
    public void Every_plan_of_the_cut_blocks_expands_to_a_valid_graph_schedule_no_slower_and_no_higher_than_the_chain_says()
    {
        var rng = new Random(73);
        int cut = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var graph = LocalGraph(rng, rng.Next(2, 30), rng.Next(1, 4));
            var blocks = GraphBlocks.AtCuts(graph);
            var chain = blocks.Chain;
            cut += chain.Length < graph.Count ? 1 : 0;
            long budget = RandomChains.Between(rng, Optimal.MinimumBudget(chain), StoreAllPeak(chain));
            foreach (var planner in new IPlanner[] { new Optimal(budget), new Periodic(), new StoreAll() })
            {
                var schedule = planner.Plan(chain);
                var planned = Simulator.Run(chain, schedule);
                var expanded = GraphSimulator.Run(graph, blocks.Expand(schedule));
                Assert.True(expanded.PeakBytes <= planned.PeakBytes && expanded.Time <= planned.Time + 1e-9 * planned.Time,
                    $"trial {trial}, {planner.Name}: the graph runs the block plan at {expanded.PeakBytes} bytes in {expanded.Time}, the chain says " +
                    $"{planned.PeakBytes} in {planned.Time}: " + string.Join(" ", schedule.Ops));
            }
        }
        Assert.True(cut > 100, $"only {cut} of 300 graphs had blocks of more than one node");
    }

    [Fact]
    public void Every_plan_of_one_node_per_block_expands_to_a_valid_graph_schedule_no_slower_than_the_chain_says()
    {
        var rng = new Random(83);
        for (int trial = 0; trial < 300; trial++)
        {
            var graph = trial % 2 == 0 ? LocalGraph(rng, rng.Next(2, 30), rng.Next(1, 6)) : GraphTests.RandomGraph(rng, rng.Next(2, 20));
            var blocks = trial % 4 < 2 ? GraphBlocks.PerNode(graph) : GraphBlocks.PerNodeKeepingSkips(graph);
            long budget = RandomChains.Between(rng, Optimal.MinimumBudget(blocks.Chain), StoreAllPeak(blocks.Chain));
            foreach (var planner in new IPlanner[] { new Optimal(budget), new Periodic(), new StoreAll() })
            {
                var schedule = planner.Plan(blocks.Chain);
                var planned = Simulator.Run(blocks.Chain, schedule);
                var expanded = GraphSimulator.Run(graph, blocks.Expand(schedule));
                Assert.True(expanded.Time <= planned.Time + 1e-9 * planned.Time,
                    $"trial {trial}, {planner.Name}: the graph runs the plan in {expanded.Time}, the chain says {planned.Time}: " + string.Join(" ", schedule.Ops));
            }
        }
    }

    [Fact]
    public void The_fastest_block_plan_fits_the_budget_and_beats_the_cut_chain_planned_at_that_budget()
    {
        var rng = new Random(79);
        for (int trial = 0; trial < 60; trial++)
        {
            var graph = LocalGraph(rng, rng.Next(4, 30), 2);
            var blocks = GraphBlocks.AtCuts(graph);
            long budget = RandomChains.Between(rng, Optimal.MinimumBudget(blocks.Chain), StoreAllPeak(blocks.Chain));
            var fastest = GraphBlocks.Fastest(graph, budget);
            Assert.True(fastest is not null, $"trial {trial}: no block plan at {budget} bytes, the cut chain's least peak is {Optimal.MinimumBudget(blocks.Chain)}");
            var trace = GraphSimulator.Run(graph, fastest);
            var atBudget = GraphSimulator.Run(graph, blocks.Expand(new Optimal(budget).Plan(blocks.Chain)));
            Assert.True(trace.PeakBytes <= budget && trace.Time <= atBudget.Time,
                $"trial {trial}: the fastest block plan runs at {trace.PeakBytes} bytes in {trace.Time} against a budget of {budget} and {atBudget.Time} planned at it");
        }
        Assert.Null(GraphBlocks.Fastest(GraphModels.UNet(3), 1));
    }

    [Fact]
    public void A_graph_of_more_blocks_than_the_chain_program_plans_is_planned_in_blocks_of_several()
    {
        // 300 stages, past the 256 the block plans take: every k-th end of each cutting is kept (k = 2 here).
        var chain = Chain.Heterogeneous(300);
        var graph = Graph.FromChain(chain);
        long budget = StoreAllPeak(chain) / 2;
        var fastest = GraphBlocks.Fastest(graph, budget);
        Assert.True(fastest is not null, "no block plan for the 300-stage chain at half of store-all's peak");
        var trace = GraphSimulator.Run(graph, fastest);
        var segments = GraphSimulator.Run(graph, GraphSegments.Fastest(graph, budget)!);
        Assert.True(trace.PeakBytes <= budget && trace.Time < segments.Time,
            $"the block plan runs at {trace.PeakBytes} bytes in {trace.Time} against a budget of {budget}; the fastest segmentation takes {segments.Time}");
        var least = GraphBlocks.LeastPeak(graph);
        Assert.True(least.PeakBytes < budget, $"the least-peak block plan of the 300-stage chain peaks at {least.PeakBytes}, not below {budget}");
    }
}
