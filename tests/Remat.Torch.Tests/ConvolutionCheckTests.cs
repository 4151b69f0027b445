using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

public class ConvolutionCheckTests
{
    /// <summary>Stages of a convolution of <paramref name="channels"/> to <paramref name="channels"/> and a ReLU, from one seed.</summary>
    private static nn.Module<Tensor, Tensor>[] Convolutions(int channels, int stages = 3)
    {
        random.manual_seed(7);
        return [.. Enumerable.Range(0, stages).Select(_ => (nn.Module<Tensor, Tensor>)nn.Sequential(nn.Conv2d(channels, channels, 3, padding: 1), nn.ReLU()))];
    }

    private static Tensor Input(int channels)
    {
        random.manual_seed(3);
        return randn(32, channels, 8, 8);
    }

    /// <summary>The plain step's parameter gradients in float64 (libtorch's own kernels): the true ones.</summary>
    private static Tensor[] Float64Gradients(int channels)
    {
        var stages = Convolutions(channels);
        foreach (var s in stages)
            s.to(float64);
        stages.Aggregate(Input(channels).to(float64), (h, s) => s.forward(h)).pow(2).mean().backward();
        return [.. Models.Gradients(stages).Select(g => g.to(float32))];
    }

    /// <summary>The largest difference relative to the expected tensor's largest value; NaN counts as infinite (LINQ's Max skips it).</summary>
    private static double LargestRelativeError(Tensor[] actual, Tensor[] expected) =>
        actual.Zip(expected).Max(p => ((p.First - p.Second).abs().max() / p.Second.abs().max()).item<float>() is var e && float.IsNaN(e) ? double.PositiveInfinity : e);

    [Fact]
    public void The_backend_switches_read_back_what_was_set_and_are_on_by_default()
    {
        Assert.True(Backends.IsSupported, "libtorch's at::Context entry points were not found in libtorch_cpu.so");
        Assert.True(Backends.Mkldnn && Backends.Nnpack, "oneDNN and NNPACK should be on, as libtorch starts");
        using (Backends.OwnKernels())
            Assert.False(Backends.Mkldnn || Backends.Nnpack, "the switches did not turn off");
        Assert.True(Backends.Mkldnn && Backends.Nnpack, "the switches did not turn back on");
    }

    /// <summary>How far the plain step's gradients on one thread, where oneDNN's results repeat, are from float64's.</summary>
    private static double OneThreadError(int channels)
    {
        var stages = Convolutions(channels);
        int threads = get_num_threads();
        set_num_threads(1);
        stages.Aggregate(Input(channels), (h, s) => s.forward(h)).pow(2).mean().backward();
        set_num_threads(threads);
        return LargestRelativeError(Models.Gradients(stages), Float64Gradients(channels));
    }

    [Theory]
    [InlineData(6)]
    [InlineData(16)]
    public void The_check_refuses_a_stage_exactly_when_oneDNN_gives_it_wrong_gradients(int channels)
    {
        double error = OneThreadError(channels);
        var model = new CheckpointedSequential(Convolutions(channels), new PlanOptions { Strategy = "revolve", Snapshots = 1 });
        var refusal = Record.Exception(() => model.forward(Input(channels)));
        Assert.True(!(error < 1e-3) == refusal is RematException,
            $"{channels} channels: oneDNN's gradients on one thread are {error:G3} of the largest off float64's, but the profiler {(refusal is null ? "accepted the model" : $"threw {refusal}")}");
        if (refusal is not null)
            Assert.Contains("stage 2", refusal.Message);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(16)]
    public void The_graph_profiler_refuses_a_node_exactly_when_oneDNN_gives_it_wrong_gradients(int channels)
    {
        double error = OneThreadError(channels);
        var stages = Convolutions(channels);
        Func<Tensor[], Tensor>[] nodes = [.. stages.Select(s => (Func<Tensor[], Tensor>)(x => s.forward(x[0])))];
        var refusal = Record.Exception(() => Profiler.Profile([[0], [1], [2]], nodes, stages.SelectMany(s => s.parameters()), Input(channels)));
        Assert.True(!(error < 1e-3) == refusal is RematException,
            $"{channels} channels: oneDNN's gradients on one thread are {error:G3} of the largest off float64's, but the graph profiler {(refusal is null ? "accepted the graph" : $"threw {refusal}")}");
        if (refusal is not null)
            Assert.Contains("node 2", refusal.Message);
    }

    [Fact]
    public void With_oneDNN_off_a_checkpointed_model_of_six_channel_convolutions_gets_the_float64_gradients()
    {
        var expected = Float64Gradients(6);
        using var own = Backends.OwnKernels();
        var stages = Convolutions(6);
        var model = new CheckpointedSequential(stages, new PlanOptions { Strategy = "revolve", Snapshots = 1 });
        Checkpoint.Backward(model.forward(Input(6)).pow(2).mean());
        double error = LargestRelativeError(Models.Gradients(stages), expected);
        Assert.True(error < 1e-5, $"with libtorch's own kernels the gradients are {error:G3} of the largest off float64's");
    }

    [Fact]
    public void The_check_leaves_gradients_the_random_generator_and_the_switches_as_it_found_them()
    {
        var stage = Convolutions(16, stages: 1)[0];
        var x = Input(16);
        stage.forward(x).sum().backward();
        var before = Models.Gradients([stage]);
        random.manual_seed(11);
        var expected = rand(4);
        random.manual_seed(11);
        ConvolutionCheck.Verify(stage, x, inputNeedsGradient: true);
        Assert.True(rand(4).eq(expected).all().item<bool>(), "the check moved the random generator");
        Models.AssertBitwise(before, Models.Gradients([stage]), i => $"the check changed parameter gradient {i}");
        Assert.True(Backends.Mkldnn && Backends.Nnpack, "the check left oneDNN or NNPACK off");
    }
}
