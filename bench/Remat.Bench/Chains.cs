namespace Remat.Bench;

/// <summary>The chains the benchmarks plan: seeded, heterogeneous, with sizes that share no large divisor.</summary>
public static class Chains
{
    /// <summary>Stages whose times and sizes vary by up to 8x, like the stages of a CNN.</summary>
    public static Chain Heterogeneous(int length, int seed = 42)
    {
        var rng = new Random(seed);
        var stages = Enumerable.Range(1, length).Select(k =>
        {
            long a = rng.NextInt64(1L << 20, 8L << 20);
            return new Stage($"s{k}", rng.NextDouble() * 3 + 0.5, rng.NextDouble() * 6 + 1, a, a + rng.NextInt64(0, 3 * a),
                rng.NextInt64(0, a / 4), rng.NextInt64(0, a / 4));
        });
        return new Chain(4L << 20, stages, $"heterogeneous-{length}");
    }
}
