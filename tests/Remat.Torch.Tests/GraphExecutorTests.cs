using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

public class GraphExecutorTests
{
    /// <summary>
    /// A small residual network with a long skip and dropout: 1 = linear(x0), 2 = relu(linear(1)), 3 = 1 + 2 (a
    /// residual), 4 = dropout(linear(3)), 5 = 4 + 1 (a long skip), 6 = linear(5).
    /// </summary>
    private sealed class Net
    {
        public readonly nn.Module<Tensor, Tensor>[] Layers;
        public readonly int[] Calls = new int[6];
        private readonly nn.Module<Tensor, Tensor> _dropout = nn.Dropout(0.3);

        public Net()
        {
            random.manual_seed(5);
            Layers = [nn.Linear(12, 12), nn.Linear(12, 12), nn.Linear(12, 12), nn.Linear(12, 12)];
        }

        public static Graph Graph => new(16 * 12 * 4, Enumerable.Range(1, 6).Select(v => new Stage($"n{v}", 1, 2, 16 * 12 * 4, 2 * 16 * 12 * 4)),
            [[0], [1], [1, 2], [3], [4, 1], [5]]);

        public Func<Tensor[], Tensor>[] Nodes =>
        [
            x => Count(0, () => Layers[0].forward(x[0])),
            x => Count(1, () => nn.functional.relu(Layers[1].forward(x[0]))),
            x => Count(2, () => x[0] + x[1]),
            x => Count(3, () => _dropout.forward(Layers[2].forward(x[0]))),
            x => Count(4, () => x[0] + x[1]),
            x => Count(5, () => Layers[3].forward(x[0])),
        ];

        private Tensor Count(int v, Func<Tensor> f)
        {
            Calls[v]++;
            return f();
        }

        public Tensor Plain(Tensor x0)
        {
            var n = Nodes;
            var x1 = n[0]([x0]);
            var x2 = n[1]([x1]);
            var x3 = n[2]([x1, x2]);
            var x4 = n[3]([x3]);
            var x5 = n[4]([x4, x1]);
            return n[5]([x5]);
        }

        public Tensor[] Gradients() => [.. Layers.SelectMany(l => l.parameters()).Select(p => p.grad!.clone())];

        public void ZeroGrad()
        {
            foreach (var p in Layers.SelectMany(l => l.parameters()))
                p.grad?.zero_();
        }
    }

    private static Tensor Loss(Tensor y) => y.pow(2).mean();

    [Fact]
    public void Graph_schedules_give_the_plain_gradients_replay_dropout_and_run_each_node_as_often_as_planned()
    {
        var net = new Net();
        var input = randn(16, 12).requires_grad_(true);
        random.manual_seed(11);
        Loss(net.Plain(input)).backward();
        var plain = net.Gradients();
        var plainInput = input.grad!.clone();

        var graph = Net.Graph;
        long min = GraphSearch.MinimumPeak(graph), max = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
        foreach (long budget in new[] { min, (min + max) / 2, max })
        {
            var schedule = GraphSearch.Plan(graph, budget)!;
            var trace = GraphSimulator.Run(graph, schedule);
            net.ZeroGrad();
            input.grad!.zero_();
            Array.Clear(net.Calls);
            random.manual_seed(11);
            new GraphExecutor(graph, net.Nodes).Step(schedule, input, Loss);
            var got = net.Gradients();
            for (int i = 0; i < plain.Length; i++)
                Assert.True(plain[i].eq(got[i]).all().item<bool>(), $"budget {budget}: gradient {i} differs from the plain step ({schedule})");
            Assert.True(plainInput.eq(input.grad!).all().item<bool>(), $"budget {budget}: the input's gradient differs ({schedule})");
            Assert.Equal(trace.ForwardsPerStage, net.Calls);
            if (budget == min)
                Assert.True(trace.ForwardCount > graph.Count, $"the least-memory schedule should recompute: {schedule}");
        }
    }

    [Fact]
    public void An_invalid_graph_schedule_is_refused_before_anything_runs()
    {
        var net = new Net();
        var bad = new Schedule("bad", [Op.Fe(1), Op.Fe(3)]);
        Assert.Throws<ScheduleException>(() => new GraphExecutor(Net.Graph, net.Nodes).Step(bad, randn(16, 12), Loss));
        Assert.All(net.Calls, c => Assert.Equal(0, c));
    }

    [Fact]
    public void The_graph_profiler_measures_output_sizes_exactly_keeps_the_topology_and_leaves_gradients_and_random_state_alone()
    {
        var net = new Net();
        var parameters = net.Layers.SelectMany(l => l.parameters()).ToArray();
        var inputs = Enumerable.Range(1, 6).Select(v => Net.Graph.Inputs(v)).ToArray();
        var input = randn(64, 12);
        random.manual_seed(3);
        var expected = rand(1).item<float>();
        random.manual_seed(3);
        var graph = Profiler.Profile(inputs, net.Nodes, parameters, input, repeats: 2, name: "residual");
        Assert.Equal(expected, rand(1).item<float>()); // the generator is where it was
        Assert.All(parameters, p => Assert.Null(p.grad));
        Assert.Equal("residual", graph.Name);
        Assert.Equal(64 * 12 * 4L, graph.InputBytes);
        for (int v = 1; v <= 6; v++)
        {
            Assert.Equal(inputs[v - 1], graph.Inputs(v));
            Assert.Equal(64 * 12 * 4L, graph[v].OutputBytes);
            Assert.True(graph[v].SavedBytes >= graph[v].OutputBytes && graph[v].ForwardTime > 0 && graph[v].BackwardTime > 0,
                $"node {v}: {graph[v]}");
        }
    }

    [Fact]
    public void The_graph_profiler_refuses_a_node_that_reads_a_later_one()
    {
        var net = new Net();
        var e = Assert.Throws<ChainException>(() => Profiler.Profile([[0], [3], [1, 2], [3], [4, 1], [5]], net.Nodes, [], randn(4, 12)));
        Assert.All(net.Calls, c => Assert.Equal(0, c));
        Assert.Contains("2", e.Message);
    }
}
