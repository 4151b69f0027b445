namespace Remat.Tests;

/// <summary>Seeded random chains for property tests; every size is a whole number of <c>unit</c> bytes.</summary>
internal static class RandomChains
{
    public static Chain Make(Random rng, int length, long unit = 1, bool temps = true)
    {
        var stages = Enumerable.Range(1, length).Select(k =>
        {
            long a = rng.Next(1, 6) * unit;
            return new Stage($"s{k}", rng.Next(1, 10), rng.Next(1, 20), a, a + rng.Next(0, 6) * unit,
                temps ? rng.Next(0, 3) * unit : 0, temps ? rng.Next(0, 3) * unit : 0);
        });
        return new Chain(rng.Next(1, 6) * unit, stages, "random");
    }

    /// <summary>A budget drawn between <paramref name="min"/> and <paramref name="max"/>, both included.</summary>
    public static long Between(Random rng, long min, long max) => min + (long)(rng.NextDouble() * (max - min + 1));
}
