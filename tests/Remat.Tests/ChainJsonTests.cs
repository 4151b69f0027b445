namespace Remat.Tests;

public class ChainJsonTests
{
    private const string SpecExample = """
        {
          "name": "optional text",
          "input": { "bytes": 1048576 },
          "stages": [
            { "name": "block1", "forwardTime": 1.0, "backwardTime": 2.0,
              "outputBytes": 1048576, "savedBytes": 3145728 }
          ]
        }
        """;

    [Fact]
    public void The_example_of_the_spec_loads()
    {
        var c = ChainJson.Parse(SpecExample);
        Assert.Equal("optional text", c.Name);
        Assert.Equal(1048576, c.InputBytes);
        Assert.Equal(new Stage("block1", 1, 2, 1048576, 3145728), c[1]);
    }

    [Fact]
    public void A_saved_chain_loads_back_equal()
    {
        var c = RandomChains.Make(new Random(3), 7);
        var back = ChainJson.Parse(ChainJson.Serialize(c));
        Assert.Equal(c.InputBytes, back.InputBytes);
        Assert.Equal(c.Stages, back.Stages);
    }

    [Theory]
    [InlineData("""{"input":{"bytes":1},"stages":[{"forwardTime":1,"backwardTime":1,"outputBytes":1}]}""", "stage 1", "savedBytes")]
    [InlineData("""{"input":{"bytes":1},"stages":[{"forwardTime":1,"backwardTime":1,"outputBytes":1,"savedBytes":1,"fowardTime":2}]}""", "fowardTime", "did you mean 'forwardTime'")]
    [InlineData("""{"input":{"bytes":1},"stages":[{"forwardTime":1,"backwardTime":1,"outputBytes":1.5,"savedBytes":2}]}""", "stage 1", "outputBytes")]
    [InlineData("""{"input":{"bytes":1},"stages":[{"forwardTime":"fast","backwardTime":1,"outputBytes":1,"savedBytes":2}]}""", "stage 1", "forwardTime")]
    [InlineData("""{"input":{"bytes":1},"stages":[{"forwardTime":1,"backwardTime":1,"outputBytes":4,"savedBytes":2}]}""", "stage 1", "savedBytes")]
    [InlineData("""{"input":{"bytes":1},"stages":[]}""", "no stages", "at least one")]
    [InlineData("""{"stages":[]}""", "'input'", "missing")]
    [InlineData("""{"input":{"bytes":-3},"stages":[{"forwardTime":1,"backwardTime":1,"outputBytes":1,"savedBytes":1}]}""", "input", "bytes")]
    [InlineData("""{"input":{"bytes":1},"stages":[{"forwardTime":1,"backwardTime":1,"outputBytes":1,"savedBytes":99999999999999999999}]}""", "stage 1", "savedBytes")]
    [InlineData("""{"input":{"bytes":1},"stages":[""", "not valid JSON", "line 1")]
    [InlineData("[1, 2]", "top level", "object")]
    public void A_bad_chain_file_is_rejected_with_a_message_naming_where(string json, string where, string what)
    {
        var e = Assert.Throws<ChainException>(() => ChainJson.Parse(json, "chain.json"));
        Assert.Contains(where, e.Message);
        Assert.Contains(what, e.Message);
        Assert.StartsWith("chain.json", e.Message);
    }

    [Fact]
    public void A_missing_file_is_a_chain_error_that_names_the_path()
    {
        var e = Assert.Throws<ChainException>(() => ChainJson.Load("/nonexistent/chain.json"));
        Assert.Contains("/nonexistent/chain.json", e.Message);
    }
}
