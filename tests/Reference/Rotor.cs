namespace Remat.Planners;

/// <summary>
/// The optimal schedule of the rotor family for a memory budget (Beaumont et al. 2019): the dynamic
/// program of <see cref="RotorTable"/> with the budget cut into slots as <see cref="Optimal"/> cuts it. A baseline: the
/// tests and the benchmarks measure Remat's program against it. Because slot rounding can lose a
/// schedule that fits in exact bytes, the family's least-peak schedule and store-all compete with the
/// table's pick, each measured by the simulator.
/// </summary>
public sealed class Rotor : IPlanner
{
    private readonly long _budget;
    private readonly int _slots;

    /// <summary>A planner for <paramref name="budgetBytes"/> with the budget cut into <paramref name="slots"/> slots.</summary>
    public Rotor(long budgetBytes, int slots = Optimal.DefaultSlots)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(budgetBytes);
        if (slots < 1)
            throw new ArgumentOutOfRangeException(nameof(slots), slots, "the dynamic program needs at least 1 memory slot.");
        _budget = budgetBytes;
        _slots = slots;
    }

    /// <inheritdoc />
    public string Name => "rotor";

    /// <summary>The smallest budget rotor's program meets for <paramref name="chain"/>: its family's least peak.</summary>
    public static long MinimumBudget(Chain chain) => new RotorMinimumPeak(chain).PeakBytes;

    /// <inheritdoc />
    public Schedule Plan(Chain chain) => Plan(chain, Name);

    /// <summary>The fastest rotor-family schedule within the budget, named <paramref name="strategy"/>.</summary>
    internal Schedule Plan(Chain chain, string strategy)
    {
        Optimal.CheckLength(chain.Length);
        long slotBytes = Optimal.SlotBytes(chain, _budget, _slots);
        int slots = (int)Math.Min(_slots, _budget / slotBytes);
        RotorTable.CheckWork(chain.Length, slots); // before any O(L^3) work
        var least = new RotorMinimumPeak(chain);
        if (_budget < least.PeakBytes)
            throw new InfeasibleBudgetException(strategy, _budget, least.PeakBytes);
        var table = new RotorTable(chain, slotBytes, slots);
        int memory = (int)Math.Min(slots, (_budget - chain.InputBytes) / slotBytes);
        var candidates = new List<Schedule> { RotorFamily.Emit(strategy, chain.Length, least, 0) };
        if (!float.IsPositiveInfinity(table.Time(memory)))
            candidates.Add(RotorFamily.Emit(strategy, chain.Length, table, memory));
        var storeAll = new StoreAll().Plan(chain);
        if (Simulator.Run(chain, storeAll).PeakBytes <= _budget)
            candidates.Add(new Schedule(strategy, storeAll.Ops));
        return candidates.Select(c => Simulator.Run(chain, c)).Where(t => t.PeakBytes <= _budget).MinBy(t => t.Time)!.Schedule;
    }
}
