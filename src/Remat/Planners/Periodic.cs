namespace Remat.Planners;

/// <summary>
/// Periodic checkpointing with PyTorch's checkpoint_sequential semantics: n segments of L / n stages
/// (integer division), the last one taking the rest. n = round(sqrt L) by default (Chen et al. 2016,
/// section 4.1), and n is clamped to [1, L]: more segments than stages means one stage per segment.
/// </summary>
public sealed class Periodic(int? segments = null) : IPlanner
{
    private readonly int? _segments = segments is < 1
        ? throw new ArgumentOutOfRangeException(nameof(segments), segments, "the number of segments must be at least 1.")
        : segments;

    /// <inheritdoc />
    public string Name => "periodic";

    /// <summary>The number of segments used for a chain of <paramref name="length"/> stages.</summary>
    public int SegmentsFor(int length) =>
        Math.Clamp(_segments ?? (int)Math.Round(Math.Sqrt(length), MidpointRounding.AwayFromZero), 1, length);

    /// <inheritdoc />
    public Schedule Plan(Chain chain)
    {
        int n = SegmentsFor(chain.Length), size = chain.Length / n;
        var starts = Enumerable.Range(0, n).Select(i => i * size + 1).ToArray();
        return Segments.Build(Name, chain.Length, starts);
    }
}
