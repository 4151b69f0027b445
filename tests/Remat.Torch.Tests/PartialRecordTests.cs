using Remat.Transformers;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

/// <summary>
/// Blocks that declare a part to recompute (<see cref="PartialRecompute"/>): the profiler measures their partial
/// records, and a plan that records them partially trains with the plain gradients.
/// </summary>
public class PartialRecordTests
{
    private static nn.Module<Tensor, Tensor>[] Blocks()
    {
        random.manual_seed(5);
        return [.. Enumerable.Range(0, 4).Select(_ => (nn.Module<Tensor, Tensor>)new GptBlock(32, 4, 0.2, Recompute.None))];
    }

    [Fact]
    public void The_profiler_measures_the_partial_record_of_a_block_that_declares_its_attention_core()
    {
        var blocks = Blocks();
        var chain = Profiler.Profile(blocks, randn(4, 128, 32));
        foreach (var stage in chain.Stages)
        {
            var partial = Assert.IsType<PartialRecord>(stage.Partial);
            // The core's s^2 tensors stay out (softmax output, dropout mask and output: 4 x 4 heads x 128^2 x 9 bytes); the
            // resident set sees them to within its noise on tensors this small, so at least the softmax output must go.
            Assert.True(stage.SavedBytes - partial.SavedBytes >= 4 * 4 * 128 * 128 * 4,
                $"{stage.Name}: the partial record keeps {partial.SavedBytes} bytes of the full record's {stage.SavedBytes}");
        }
        Assert.Null(Profiler.Profile([nn.Linear(8, 8)], randn(2, 8)).Stages[0].Partial);
    }

    [Theory]
    [InlineData("selective")]
    [InlineData("optimal")]
    public void A_plan_that_records_blocks_partially_gives_the_plain_gradients_with_dropout(string strategy)
    {
        var blocks = Blocks();
        var x = randn(4, 64, 32, requires_grad: true);
        random.manual_seed(9);
        Models.Loss(blocks.Aggregate(x, (h, b) => b.forward(h))).backward();
        var plain = Models.Gradients(blocks).Append(x.grad!.clone()).ToArray();
        Models.ZeroGrad(blocks);
        x.grad!.zero_();

        var module = new CheckpointedSequential(blocks, new PlanOptions { Strategy = "selective" });
        if (strategy == "optimal") // between selective's peak and store-all's: the plan picks each block's record
        {
            var chain = module.ChainFor(x);
            long selective = Planner.Plan(chain, new PlanOptions { Strategy = "selective" }).PeakBytes;
            long storeAll = Simulator.Run(chain, new Planners.StoreAll().Plan(chain)).PeakBytes;
            module.Options = new PlanOptions { BudgetBytes = (selective + storeAll) / 2 };
        }
        random.manual_seed(9);
        Models.Loss(module.forward(x)).backward();
        Models.AssertBitwise(plain, [.. Models.Gradients(blocks), x.grad!], i => $"{strategy}: gradient {i} differs from the plain step");
        if (strategy == "selective")
            Assert.Equal([1, 2, 3, 4], module.LastPlan!.Schedule.PartialRecords);
    }

    [Fact]
    public void A_graph_node_that_declares_its_core_is_profiled_and_recorded_partially_with_the_plain_gradients()
    {
        // Node 3 adds node 1's output back to node 2's: a residual around two GPT blocks, then a third block.
        var blocks = Blocks()[..3];
        IReadOnlyList<int>[] inputs = [[0], [1], [1, 2], [3]];
        Func<Tensor[], Tensor>[] nodes =
        [
            xs => blocks[0].forward(xs[0]), xs => blocks[1].forward(xs[0]), xs => xs[0] + xs[1], xs => blocks[2].forward(xs[0]),
        ];
        var x = randn(4, 64, 32, requires_grad: true);
        var graph = Profiler.Profile(inputs, nodes, blocks.SelectMany(b => b.parameters()), x.detach());
        Assert.All(new[] { 1, 2, 4 }, v => Assert.NotNull(graph[v].Partial));
        Assert.Null(graph[3].Partial);

        random.manual_seed(9);
        var h1 = nodes[0]([x]);
        Models.Loss(nodes[3]([nodes[2]([h1, nodes[1]([h1])])])).backward();
        var plain = Models.Gradients(blocks).Append(x.grad!.clone()).ToArray();
        Models.ZeroGrad(blocks);
        x.grad!.zero_();

        var schedule = new Schedule("partial", graph.StoreAll().Ops, [1, 2, 4]);
        var full = GraphSimulator.Run(graph, graph.StoreAll());
        var partial = GraphSimulator.Run(graph, schedule);
        Assert.True(partial.PeakBytes < full.PeakBytes, $"partial records peak at {partial.PeakBytes} bytes, full ones at {full.PeakBytes}");
        random.manual_seed(9);
        new GraphExecutor(graph, nodes).Step(schedule, x, Models.Loss);
        // A block reads its input twice (its residual and its norm), and the residual around it reads that input too:
        // the block's backward sums its two terms before the executor adds them to the third, where the plain step adds
        // all three into one buffer. The sums differ in rounding only (2.8e-7 of the largest gradient, measured).
        Models.AssertClose(plain, [.. Models.Gradients(blocks), x.grad!], 1e-5, i => $"gradient {i} differs from the plain step");
    }
}
