namespace Remat;

/// <summary>
/// A schedule: the list of operations that the simulator replays and the TorchSharp executor runs.
/// It is the one contract between planning and running.
/// </summary>
public sealed class Schedule
{
    private readonly Op[] _ops;

    /// <summary>Wraps a list of operations; validity is checked by <see cref="Simulator"/>.</summary>
    public Schedule(string strategy, IEnumerable<Op> ops)
        : this(strategy, ops.ToArray())
    {
    }

    /// <summary>Takes <paramref name="ops"/> as it is: the caller hands it over and keeps no reference.</summary>
    internal Schedule(string strategy, Op[] ops)
    {
        Strategy = strategy;
        _ops = ops;
    }

    /// <summary>The name of the planner that made it (for reports).</summary>
    public string Strategy { get; }

    /// <summary>The operations in order.</summary>
    public IReadOnlyList<Op> Ops => _ops;

    /// <summary>The number of forward operations (Fn + Fck + Fe).</summary>
    public long ForwardCount => _ops.LongCount(o => o.IsForward);

    /// <inheritdoc />
    public override string ToString() => string.Join(" ", _ops);
}
