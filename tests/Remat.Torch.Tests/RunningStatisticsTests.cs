using Remat.Planners;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

public class RunningStatisticsTests
{
    private static readonly int[] Widths = [16, 32, 24, 32, 16, 24, 8];

    /// <summary>Stages of Linear, BatchNorm and ReLU, the same weights for the same seed.</summary>
    private static nn.Module<Tensor, Tensor>[] Stages(int seed = 5)
    {
        random.manual_seed(seed);
        return [.. Enumerable.Range(0, Widths.Length - 1).Select(i =>
            (nn.Module<Tensor, Tensor>)nn.Sequential(nn.Linear(Widths[i], Widths[i + 1]), nn.BatchNorm1d(Widths[i + 1]), nn.ReLU()))];
    }

    /// <summary>Every running mean, variance and batch count, in that order per layer.</summary>
    private static Tensor[] Statistics(IEnumerable<nn.Module> stages) =>
        [.. stages.SelectMany(s => s.modules()).OfType<NormBase>().SelectMany(n => new[] { n.running_mean!, n.running_var!, n.num_batches_tracked! }).Select(t => t.clone())];

    private static string Name(int statistic) => (statistic % 3) switch { 0 => "running_mean", 1 => "running_var", _ => "num_batches_tracked" };

    /// <summary>The ways a model's stages run checkpointed, each recomputing some of them in the backward.</summary>
    public static TheoryData<string> Ways => ["checkpoint a module", "checkpoint a method", "checkpoint a lambda", "checkpoint a lambda over all stages", "checkpoint a lambda over a list",
        "checkpoint_sequential", "apply", "CheckpointedSequential", "executor",
        "checkpoint a module" + Twice, "CheckpointedSequential" + Twice];

    private const string Twice = ", backward twice";

    private sealed class Net : nn.Module<Tensor, Tensor>
    {
        private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;

        public Net(nn.Module<Tensor, Tensor>[] stages) : base("net")
        {
            blocks = nn.ModuleList(stages);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => blocks.Aggregate(x, (acc, b) => b.forward(acc));
    }

    /// <summary>Runs two training steps of <paramref name="stages"/> checkpointed the given way (or plainly), and returns the statistics and gradients.</summary>
    private static (Tensor[] Statistics, Tensor[] Gradients) TwoSteps(string way, nn.Module<Tensor, Tensor>[] stages)
    {
        var net = new Net(stages);
        var checkpointed = way.StartsWith("CheckpointedSequential") ? new CheckpointedSequential(stages, new PlanOptions { Strategy = "revolve", Snapshots = 2 }) : null;
        if (way == "apply")
            Checkpointing.Apply(net, (_, m) => m is Sequential, everyNth: 1);
        random.manual_seed(21);
        var inputs = new[] { randn(12, Widths[0]), randn(12, Widths[0]) };
        foreach (var x in inputs)
        {
            Models.ZeroGrad(stages);
            Func<Tensor, Tensor> loss = y => y.pow(2).mean();
            if (way == "executor")
            {
                new ScheduleExecutor(stages).Step(new Revolve(2).Plan(Chain.Uniform(stages.Length, 1, 2)), x, loss);
                continue;
            }
            var l = loss(way.Replace(Twice, "") switch
            {
                "checkpoint a module" => stages.Aggregate(x, (acc, s) => Checkpoint.Run(s, acc)),
                "checkpoint a method" => stages.Aggregate(x, (acc, s) => Checkpoint.Run(s.forward, acc)),
                "checkpoint a lambda" => stages.Aggregate(x, (acc, s) => Checkpoint.Run(t => s.forward(t), acc)),
                "checkpoint a lambda over all stages" => Checkpoint.Run(xs => [stages.Aggregate(xs[0], (acc, s) => s.forward(acc))], [x])[0],
                "checkpoint a lambda over a list" => OverList([.. stages], x),
                "checkpoint_sequential" => SequentialCheckpoint.Run(stages, 3, x),
                "CheckpointedSequential" => checkpointed!.forward(x),
                _ => net.forward(x),
            });
            if (way.EndsWith(Twice)) // a second backward through the same graph recomputes again, and must not count the batch again
                l.backward(retain_graph: true);
            l.backward();
        }
        return (Statistics(stages), Models.Gradients(stages));
    }

    /// <summary>A lambda whose closure holds only a list of the stages (the other ways' closures also hold the array).</summary>
    private static Tensor OverList(List<nn.Module<Tensor, Tensor>> list, Tensor x) => Checkpoint.Run(t => list.Aggregate(t, (acc, s) => s.forward(acc)), x);

    [Theory]
    [MemberData(nameof(Ways))]
    public void A_recomputed_BatchNorm_updates_its_running_statistics_once_per_step_as_the_plain_step_does(string way)
    {
        var (plainStatistics, plainGradients) = TwoSteps(way.EndsWith(Twice) ? "plain" + Twice : "plain", Stages());
        var (statistics, gradients) = TwoSteps(way, Stages());
        Models.AssertBitwise(plainStatistics, statistics, i => $"{way}: running statistic {i} ({Name(i)}) differs from the plain step's after two steps");
        Models.AssertBitwise(plainGradients, gradients, i => $"{way}: gradient {i} differs from the plain step's");
    }

    [Theory]
    [InlineData("checkpoint a module")]
    [InlineData("CheckpointedSequential")]
    public void A_BatchNorm_used_plainly_and_recomputed_in_one_step_is_updated_as_in_the_plain_step_and_its_backward_still_runs(string way)
    {
        // The module runs plainly in front (its graph saves its running statistics), then again inside the checkpointed
        // part, whose recomputations run before that plain backward. Writing the statistics back after a recomputation
        // would make the plain backward fail ("modified by an inplace operation"); freezing them does not.
        random.manual_seed(6);
        static nn.Module<Tensor, Tensor> Block() => nn.Sequential(nn.Linear(16, 16), nn.BatchNorm1d(16), nn.ReLU());
        (nn.Module<Tensor, Tensor> Shared, nn.Module<Tensor, Tensor>[] Checkpointed) Model()
        {
            random.manual_seed(6);
            var shared = Block();
            return (shared, [Block(), shared, Block()]);
        }
        random.manual_seed(4);
        var x = randn(10, 16);
        var plain = Model();
        plain.Checkpointed.Aggregate(plain.Shared.forward(x), (acc, s) => s.forward(acc)).pow(2).mean().backward();
        var expectedStatistics = Statistics(plain.Checkpointed);
        var expectedGradients = Models.Gradients(plain.Checkpointed);

        var (shared, stages) = Model();
        var h = shared.forward(x);
        var y = way == "checkpoint a module"
            ? stages.Aggregate(h, (acc, s) => Checkpoint.Run(s, acc))
            : new CheckpointedSequential(stages, new PlanOptions { Strategy = "revolve", Snapshots = 1 }).forward(h);
        Checkpoint.Backward(y.pow(2).mean());
        var statistics = Statistics(stages);
        var gradients = Models.Gradients(stages);
        Models.AssertBitwise(expectedStatistics, statistics, i => $"{way}: running statistic {i} ({Name(i)}) differs from the plain step's");
        Models.AssertBitwise(expectedGradients, gradients, i => $"{way}: gradient {i} differs from the plain step's");
    }

    [Fact]
    public void An_InstanceNorm_that_tracks_running_statistics_is_updated_once_per_step_too()
    {
        // 16 channels: with fewer, libtorch's own convolution gradients are wrong on AVX-512 machines (docs/torchsharp.md).
        static nn.Module<Tensor, Tensor>[] Model()
        {
            random.manual_seed(7);
            return [.. Enumerable.Range(0, 4).Select(_ => (nn.Module<Tensor, Tensor>)nn.Sequential(
                nn.Conv1d(16, 16, 3, padding: 1), nn.InstanceNorm1d(16, affine: true, track_running_stats: true), nn.ReLU()))];
        }
        random.manual_seed(3);
        var x = randn(5, 16, 10);
        var plain = Model();
        plain.Aggregate(x, (h, s) => s.forward(h)).pow(2).mean().backward();
        var stages = Model();
        Checkpoint.Backward(new CheckpointedSequential(stages, new PlanOptions { Strategy = "revolve", Snapshots = 1 }).forward(x).pow(2).mean());
        Models.AssertBitwise(Statistics(plain), Statistics(stages), i => $"InstanceNorm running statistic {i} ({Name(i)}) differs from the plain step's");
        Models.AssertBitwise(Models.Gradients(plain), Models.Gradients(stages), i => $"gradient {i} differs from the plain step's");
    }

    [Fact]
    public void A_recomputed_graph_node_updates_its_running_statistics_once_and_the_graph_profiler_leaves_them_alone()
    {
        // 1 = bn(linear(x0)), 2 = relu(bn(linear(1))), 3 = 1 + 2 (a residual), 4 = linear(3).
        static (nn.Module?[] Modules, Func<Tensor[], Tensor>[] Nodes) Net()
        {
            random.manual_seed(8);
            var first = nn.Sequential(nn.Linear(12, 12), nn.BatchNorm1d(12));
            var second = nn.Sequential(nn.Linear(12, 12), nn.BatchNorm1d(12), nn.ReLU());
            var last = nn.Linear(12, 4);
            return ([first, second, null, last], [x => first.forward(x[0]), x => second.forward(x[0]), x => x[0] + x[1], x => last.forward(x[0])]);
        }
        var graph = new Graph(1, Enumerable.Range(1, 4).Select(v => new Stage($"n{v}", 1, 2, 4, 8)), [[0], [1], [1, 2], [3]]);
        var schedule = GraphSearch.Plan(graph, GraphSearch.MinimumPeak(graph))!;
        Assert.True(GraphSimulator.Run(graph, schedule).ForwardCount > graph.Count, $"the least-memory schedule should recompute: {schedule}");
        random.manual_seed(2);
        var x0 = randn(16, 12);

        var plain = Net();
        var y = plain.Nodes[0]([x0]);
        var h = plain.Nodes[1]([y]);
        plain.Nodes[3]([plain.Nodes[2]([y, h])]).pow(2).mean().backward();
        var expected = Statistics(plain.Modules.OfType<nn.Module>());

        var net = Net();
        var parameters = net.Modules.OfType<nn.Module>().SelectMany(m => m.parameters()).ToArray();
        var before = Statistics(net.Modules.OfType<nn.Module>());
        Profiler.Profile([.. Enumerable.Range(1, 4).Select(graph.Inputs)], net.Nodes, parameters, x0);
        var profiled = Statistics(net.Modules.OfType<nn.Module>());
        Models.AssertBitwise(before, profiled, i => $"the graph profiler changed running statistic {i} ({Name(i)})");
        new GraphExecutor(graph, net.Nodes).Step(schedule, x0, t => t.pow(2).mean());
        var got = Statistics(net.Modules.OfType<nn.Module>());
        Models.AssertBitwise(expected, got, i => $"running statistic {i} ({Name(i)}) differs from the plain step's after a step by {schedule}");
    }
}
