namespace Remat.Planners;

/// <summary>Packs the intervals s..t, 1 &lt;= s &lt;= t &lt;= L, into one array index.</summary>
internal static class Pairs
{
    /// <summary>The number of intervals of a chain of <paramref name="length"/> stages.</summary>
    public static int Count(int length) => checked(length * (length + 1) / 2);

    /// <summary>The index of s..t.</summary>
    public static int Index(int s, int t) => (t - 1) * t / 2 + (s - 1);
}
