using System.Numerics;
using System.Runtime.InteropServices;

namespace Remat.Planners;

/// <summary>The rows of rotor's dynamic program (<see cref="RotorTable"/>): a time for every memory 0 .. K slots, infinity where nothing fits.</summary>
internal static class Rows
{
    /// <summary>A row of K + 1 memories where nothing fits yet.</summary>
    public static float[] New(int slots)
    {
        var row = new float[slots + 1];
        Array.Fill(row, float.PositiveInfinity);
        return row;
    }

    /// <summary>The least memory at which a row is finite (rows never increase), or K + 1.</summary>
    public static int FirstFinite(float[] row)
    {
        int m = 0;
        while (m < row.Length && float.IsPositiveInfinity(row[m]))
            m++;
        return m;
    }

    /// <summary>best[m] = min(best[m], c + first[m] (+ second[m])) over the span: the hot loop of rotor's program.</summary>
    public static void MinInto(Span<float> best, float c, ReadOnlySpan<float> first, ReadOnlySpan<float> second, bool hasSecond)
    {
        // The hot loop of the planner: one vector of memories at a time.
        int n = best.Length, i = 0, w = Vector<float>.Count;
        ref float b = ref MemoryMarshal.GetReference(best);
        ref float f = ref MemoryMarshal.GetReference(first);
        ref float g = ref MemoryMarshal.GetReference(second);
        var cv = new Vector<float>(c);
        if (hasSecond)
        {
            for (; i + w <= n; i += w)
            {
                var v = cv + Vector.LoadUnsafe(ref f, (nuint)i) + Vector.LoadUnsafe(ref g, (nuint)i);
                Vector.Min(v, Vector.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref b, (nuint)i);
            }
            for (; i < n; i++)
                best[i] = Math.Min(best[i], c + first[i] + second[i]);
        }
        else
        {
            for (; i + w <= n; i += w)
                Vector.Min(cv + Vector.LoadUnsafe(ref f, (nuint)i), Vector.LoadUnsafe(ref b, (nuint)i)).StoreUnsafe(ref b, (nuint)i);
            for (; i < n; i++)
                best[i] = Math.Min(best[i], c + first[i]);
        }
    }
}
