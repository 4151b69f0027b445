using static TorchSharp.torch;

namespace Remat.Torch.Tests;

public class SequentialCheckpointTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    [InlineData(50)]
    public void Segments_give_the_plain_gradients(int segments)
    {
        var stages = Models.Mlp([16, 32, 8, 24, 16, 4]);
        var input = randn(4, 16, requires_grad: true);
        Models.PlainStep(stages, input);
        var plain = Models.Gradients(stages);
        Models.ZeroGrad(stages);
        Models.Loss(SequentialCheckpoint.Run(stages, segments, input)).backward();
        var got = Models.Gradients(stages);
        for (int i = 0; i < plain.Length; i++)
            Assert.True(plain[i].eq(got[i]).all().item<bool>(), $"{segments} segments: gradient {i} differs");
    }

    [Fact]
    public void Each_checkpointed_segment_runs_twice_and_the_last_once()
    {
        var stages = Models.Mlp([8, 8, 8, 8, 8, 8, 8]); // 6 modules, 3 segments of 2
        var input = randn(2, 8, requires_grad: true);
        Models.Loss(SequentialCheckpoint.Run(stages, 3, input)).backward();
        Assert.Equal([2, 2, 2, 2, 1, 1], stages.Select(s => s.Calls).ToArray());
    }
}
