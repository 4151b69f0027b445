namespace Remat;

/// <summary>
/// A schedule: the list of operations that the simulator replays and the TorchSharp executor runs.
/// It is the one contract between planning and running.
/// </summary>
public sealed class Schedule
{
    private readonly Op[] _ops;

    /// <summary>
    /// Wraps a list of operations, with the stages whose records are partial (<paramref name="partialRecords"/>:
    /// their <c>Fe</c> leaves the declared part out, and their <c>B</c> recomputes it; docs/model.md); validity is
    /// checked by <see cref="Simulator"/>.
    /// </summary>
    public Schedule(string strategy, IEnumerable<Op> ops, IEnumerable<int>? partialRecords = null)
        : this(strategy, ops.ToArray(), partialRecords)
    {
    }

    /// <summary>Takes <paramref name="ops"/> as it is: the caller hands it over and keeps no reference.</summary>
    internal Schedule(string strategy, Op[] ops, IEnumerable<int>? partialRecords = null)
    {
        Strategy = strategy;
        _ops = ops;
        PartialRecords = partialRecords is null ? [] : new SortedSet<int>(partialRecords);
    }

    /// <summary>The stages recorded partially, in order (none by default).</summary>
    public IReadOnlySet<int> PartialRecords { get; }

    /// <summary>The name of the planner that made it (for reports).</summary>
    public string Strategy { get; }

    /// <summary>The operations in order.</summary>
    public IReadOnlyList<Op> Ops => _ops;

    /// <summary>The number of forward operations (Fn + Fck + Fe).</summary>
    public long ForwardCount => _ops.LongCount(o => o.IsForward);

    /// <inheritdoc />
    public override string ToString() =>
        string.Join(" ", _ops) + (PartialRecords.Count > 0 ? $" (partial records: {string.Join(", ", PartialRecords)})" : "");
}
