namespace Remat;

/// <summary>What a strategy makes for a graph: the schedule, and what it proved of it.</summary>
/// <param name="Schedule">The schedule, checked by the graph simulator before it becomes a <see cref="Plan"/>.</param>
/// <param name="Gap">The proven relative gap between the schedule's time and the fastest the model allows: 0 when
/// proven optimal, null when nothing is proven.</param>
/// <param name="Remark">What the strategy says of its plan (why nothing is proven, say), or null.</param>
public sealed record Solution(Schedule Schedule, double? Gap = null, string? Remark = null);
