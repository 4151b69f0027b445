namespace Remat;

/// <summary>A schedule that breaks the rules of the chain model, found while replaying it.</summary>
public sealed class ScheduleException(int opIndex, string message)
    : RematException($"operation {opIndex}: {message}")
{
    /// <summary>The 0-based index of the first bad operation.</summary>
    public int OpIndex { get; } = opIndex;
}
