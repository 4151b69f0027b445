namespace Remat.Tests;

public class ChainTests
{
    [Fact]
    public void Saved_bytes_below_output_bytes_is_rejected_naming_the_stage_and_field()
    {
        var e = Assert.Throws<ChainException>(() => new Chain(4, [new Stage("a", 1, 1, 4, 4), new Stage("conv2", 1, 1, 8, 6)]));
        Assert.Contains("stage 2", e.Message);
        Assert.Contains("conv2", e.Message);
        Assert.Contains("savedBytes", e.Message);
    }

    [Theory]
    [InlineData(double.NaN, "forwardTime")]
    [InlineData(-1.0, "forwardTime")]
    [InlineData(double.PositiveInfinity, "forwardTime")]
    public void Bad_times_are_rejected_with_the_field(double time, string field)
    {
        var e = Assert.Throws<ChainException>(() => new Chain(1, [new Stage("a", time, 1, 1, 1)]));
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Negative_sizes_and_empty_chains_are_rejected()
    {
        Assert.Contains("backwardTempBytes", Assert.Throws<ChainException>(() => new Chain(1, [new Stage("a", 1, 1, 1, 1, 0, -5)])).Message);
        Assert.Contains("input", Assert.Throws<ChainException>(() => new Chain(-1, [new Stage("a", 1, 1, 1, 1)])).Message);
        Assert.Contains("no stages", Assert.Throws<ChainException>(() => new Chain(1, [])).Message);
    }

    [Fact]
    public void Sizes_that_would_overflow_the_memory_sums_are_rejected()
    {
        var huge = new Stage("a", 1, 1, long.MaxValue / 2, long.MaxValue / 2);
        Assert.Contains("2 EiB", Assert.Throws<ChainException>(() => new Chain(1, [huge, huge])).Message);
    }

    [Fact]
    public void Uniform_builds_identical_stages_with_an_input_the_size_of_an_output()
    {
        var c = Chain.Uniform(5, 10, 30, 1, 2);
        Assert.Equal(5, c.Length);
        Assert.Equal(10, c.InputBytes);
        Assert.All(c.Stages, s => Assert.Equal((10L, 30L), (s.OutputBytes, s.SavedBytes)));
        Assert.Equal(15, c.BaselineTime);
    }
}
