namespace Remat.Tests;

public class ByteSizeTests
{
    [Theory]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("2GiB", 2L << 30)]
    [InlineData("1.5GB", 1_500_000_000L)]
    [InlineData("4096", 4096L)]
    [InlineData("10 B", 10L)]
    [InlineData("3kb", 3000L)]
    [InlineData("1KiB", 1024L)]
    public void Sizes_follow_IEC_and_SI_units(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out long parsed, out string error), error);
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-5MiB")]
    [InlineData("12 parsecs")]
    [InlineData("NaN")]
    [InlineData("99999999999999999999999GiB")]
    public void Anything_else_is_refused_with_a_reason(string text)
    {
        Assert.False(ByteSize.TryParse(text, out _, out string error));
        Assert.Contains(text.Trim().Length == 0 ? "not a size" : text, error);
    }

    [Fact]
    public void Sizes_format_with_IEC_units() =>
        Assert.Equal(("512 B", "1.5 GiB"), (ByteSize.Format(512), ByteSize.Format(3L << 29)));
}
