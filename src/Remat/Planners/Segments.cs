namespace Remat.Planners;

/// <summary>
/// The schedule of segment checkpointing (Chen et al. 2016, section 3; PyTorch's checkpoint_sequential):
/// every segment but the last runs without recording and keeps only its input; the last is recorded;
/// in the backward each segment is recomputed with recording, then reversed.
/// </summary>
internal static class Segments
{
    /// <summary>Builds the schedule for segments that start at the given stages (first start 1, increasing).</summary>
    public static Schedule Build(string strategy, int length, IReadOnlyList<int> starts)
    {
        var ops = new List<Op>(4 * length + 1);
        int n = starts.Count;
        int End(int i) => i + 1 < n ? starts[i + 1] - 1 : length;
        for (int i = 0; i < n - 1; i++)
        {
            ops.Add(Op.Fck(starts[i]));
            for (int k = starts[i] + 1; k <= End(i); k++)
                ops.Add(Op.Fn(k));
        }
        for (int k = starts[n - 1]; k <= length; k++)
            ops.Add(Op.Fe(k));
        ops.Add(Op.Loss);
        for (int k = length; k >= starts[n - 1]; k--)
            ops.Add(Op.B(k));
        for (int i = n - 2; i >= 0; i--)
        {
            for (int k = starts[i]; k <= End(i); k++)
                ops.Add(Op.Fe(k));
            for (int k = End(i); k >= starts[i]; k--)
                ops.Add(Op.B(k));
        }
        return new Schedule(strategy, ops);
    }
}
