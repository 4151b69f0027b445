namespace Remat.Planners;

/// <summary>
/// The optimal schedule of the rotor family for a memory budget (Beaumont et al. 2019): the dynamic
/// program of <see cref="RotorTable"/> with the budget cut into slots. Because slot rounding can lose a
/// schedule that fits in exact bytes, the family's least-peak schedule and store-all compete with the
/// table's pick, each measured by the simulator.
/// </summary>
public sealed class Rotor : IPlanner
{
    /// <summary>The default number of memory slots of the dynamic program.</summary>
    public const int DefaultSlots = 1000;

    /// <summary>The longest chain the dynamic program takes (its least-peak program alone is O(L^3)).</summary>
    public const int MaxStages = 1024;

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

    /// <summary>The smallest budget rotor's program meets for <paramref name="chain"/>: its family's least peak.</summary>
    public static long MinimumBudget(Chain chain) => new RotorMinimumPeak(chain).PeakBytes;

    /// <summary>
    /// The slot: the greatest common divisor of the chain's sizes where the budget holds at most the
    /// given number of them (the table is then exact), else the budget divided by the number of slots.
    /// </summary>
    internal static long SlotBytes(Chain chain, long budget, int slots)
    {
        long gcd = chain.Stages.Aggregate(chain.InputBytes, (g, s) =>
            Gcd(Gcd(Gcd(Gcd(g, s.OutputBytes), s.SavedBytes), s.ForwardTempBytes), s.BackwardTempBytes));
        if (gcd > 0 && budget / gcd <= slots)
            return gcd;
        return Math.Max(1, (budget + slots - 1) / slots);
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    /// <inheritdoc />
    public Schedule Plan(Chain chain) => Plan(chain, Name);

    /// <summary>The fastest rotor-family schedule within the budget, named <paramref name="strategy"/>.</summary>
    internal Schedule Plan(Chain chain, string strategy)
    {
        RotorMinimumPeak.CheckLength(chain.Length);
        long slotBytes = SlotBytes(chain, _budget, _slots);
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
