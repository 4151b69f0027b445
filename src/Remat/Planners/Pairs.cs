namespace Remat.Planners;

/// <summary>Packs the intervals s..t, 1 &lt;= s &lt;= t &lt;= L, into one array index.</summary>
internal static class Pairs
{
    /// <summary>The number of intervals of a chain of <paramref name="length"/> stages.</summary>
    public static int Count(int length) => checked(length * (length + 1) / 2);

    /// <summary>The index of s..t.</summary>
    public static int Index(int s, int t) => (t - 1) * t / 2 + (s - 1);

    /// <summary>The index of s..t in the other order, by start: the intervals s..s, s..s+1, .. s..L lie together.</summary>
    public static int IndexByStart(int length, int s, int t) => (s - 1) * (length + 1) - (s - 1) * s / 2 + (t - s);
}
