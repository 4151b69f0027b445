using Remat.Cli;
using Remat.Torch;
using static TorchSharp.torch;

namespace Remat.Tests;

[Collection("measures memory")]
public class TrainGraphsTests
{
    [Theory]
    [InlineData("unet", 2, 16)]
    [InlineData("resnet", 3, 16)]
    [InlineData("resnet", 2, 32)]
    public void Every_segmentation_of_the_graph_models_gives_the_plain_gradients_bit_for_bit(string model, int depth, int width)
    {
        var shape = TrainGraphs.Build(model, depth, width, seed: 1);
        var parameters = shape.Modules.SelectMany(m => m.parameters()).ToArray();
        var x = randn([4, .. shape.InputShape]);
        var target = randn([4, .. shape.TargetShape]);
        Tensor Loss(Tensor y) => nn.functional.mse_loss(y, target);
        var graph = Profiler.Profile(shape.Inputs, shape.Nodes, parameters, x, repeats: 1, name: model);
        Tensor[] Gradients(Action step)
        {
            foreach (var p in parameters)
                p.grad = null;
            step();
            return [.. parameters.Select(p => p.grad!.clone())];
        }
        var plain = Gradients(() =>
        {
            var outputs = new Tensor[graph.Count + 1];
            outputs[0] = x;
            for (int v = 1; v <= graph.Count; v++)
                outputs[v] = shape.Nodes[v - 1]([.. graph.Inputs(v).Select(u => outputs[u])]);
            Loss(outputs[graph.Count]).backward();
        });
        Assert.True(plain.All(g => !g.isnan().any().item<bool>()), $"{model}: the plain step's gradients have NaN");
        var executor = new GraphExecutor(graph, shape.Nodes);
        foreach (var schedule in Enumerable.Range(1, graph.Count).Select(n => GraphSegments.Plan(graph, n)).Prepend(graph.StoreAll()))
        {
            var got = Gradients(() => executor.Step(schedule, x, Loss));
            for (int i = 0; i < plain.Length; i++)
                Assert.True(plain[i].eq(got[i]).all().item<bool>(),
                    $"{model}: gradient {i} of {schedule.Strategy} differs from the plain step's by up to {(plain[i] - got[i]).abs().max().item<float>()}");
        }
    }

    [Fact]
    public void Graph_models_of_fewer_than_16_channels_are_refused_naming_libtorchs_fault()
    {
        var error = new StringWriter();
        Assert.Equal(2, Cli.Cli.Run(["train", "--model", "resnet", "--width", "8"], new StringWriter(), error));
        Assert.Contains("16", error.ToString());
        Assert.Contains("--width", error.ToString());
    }
}
