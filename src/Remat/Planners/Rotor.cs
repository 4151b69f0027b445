namespace Remat.Planners;

/// <summary>
/// The optimal schedule of the rotor family for a memory budget (Beaumont et al. 2019): the dynamic
/// program of <see cref="RotorTable"/> with the budget cut into slots. Where the slot rounding loses a
/// schedule that fits in exact bytes, the family's least-peak schedule is used instead.
/// </summary>
public sealed class Rotor : IPlanner
{
    /// <summary>The default number of memory slots of the dynamic program.</summary>
    public const int DefaultSlots = 1000;

    /// <summary>The longest chain the dynamic program takes.</summary>
    public const int MaxStages = 2048;

    private readonly long _budget;
    private readonly int _slots;

    /// <summary>A planner for <paramref name="budgetBytes"/> with the budget cut into <paramref name="slots"/> slots.</summary>
    public Rotor(long budgetBytes, int slots = DefaultSlots)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(budgetBytes);
        if (slots < 1)
            throw new ArgumentOutOfRangeException(nameof(slots), slots, "the dynamic program needs at least 1 memory slot.");
        _budget = budgetBytes;
        _slots = slots;
    }

    /// <inheritdoc />
    public string Name => "rotor";

    /// <inheritdoc />
    public Schedule Plan(Chain chain) => Plan(chain, Name);

    /// <summary>The fastest rotor-family schedule within the budget, named <paramref name="strategy"/>.</summary>
    internal Schedule Plan(Chain chain, string strategy)
    {
        if (chain.Length > MaxStages)
            throw new ArgumentOutOfRangeException(nameof(chain),
                $"the dynamic program takes at most {MaxStages} stages, and the chain has {chain.Length}; group stages, or use revolve or periodic.");
        var least = new RotorMinimumPeak(chain);
        if (_budget < least.PeakBytes)
            throw new InfeasibleBudgetException(strategy, _budget, least.PeakBytes);
        int slots = (int)Math.Min(_slots, _budget);
        long slotBytes = Math.Max(1, (_budget + slots - 1) / slots);
        var table = new RotorTable(chain, slotBytes, slots);
        int memory = (int)Math.Min(slots, (_budget - chain.InputBytes) / slotBytes);
        var fallback = RotorFamily.Emit(strategy, chain.Length, least, 0);
        if (float.IsPositiveInfinity(table.Time(memory)))
            return fallback;
        var planned = RotorFamily.Emit(strategy, chain.Length, table, memory);
        return Simulator.Run(chain, planned).Time <= Simulator.Run(chain, fallback).Time ? planned : fallback;
    }
}
