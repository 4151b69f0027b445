namespace Remat.Planners;

/// <summary>
/// The least time among schedules of the chain model whose peak is within the budget: Remat's exact dynamic program
/// (<see cref="ExactTable"/>, over <see cref="ExactFamily"/>), which reaches the optimum of every schedule of the
/// model where the chain's sizes are whole numbers of its memory slots. Slot rounding can hide a schedule whose exact
/// peak sits at the budget, so the family's least-peak schedule, store-all and the classic strategies compete with the
/// program's pick. Chains of up to 8 stages are searched exhaustively in exact bytes instead.
/// </summary>
public sealed class Optimal : IPlanner
{
    /// <summary>Chains up to this many stages are searched exhaustively.</summary>
    public const int ExactUpTo = ExhaustiveSearch.MaxStages;

    private readonly long _budget;
    private readonly int _slots, _exactUpTo;

    /// <summary>A planner for <paramref name="budgetBytes"/>; <paramref name="slots"/> is the resolution of the dynamic program.</summary>
    public Optimal(long budgetBytes, int slots = Rotor.DefaultSlots) : this(budgetBytes, slots, ExactUpTo)
    {
    }

    /// <summary>As the public constructor, with the exhaustive search up to <paramref name="exactUpTo"/> stages (0: never).</summary>
    internal Optimal(long budgetBytes, int slots, int exactUpTo)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(budgetBytes);
        if (slots < 1)
            throw new ArgumentOutOfRangeException(nameof(slots), slots, "the dynamic program needs at least 1 memory slot.");
        _budget = budgetBytes;
        _slots = slots;
        _exactUpTo = Math.Min(exactUpTo, ExhaustiveSearch.MaxStages);
    }

    /// <inheritdoc />
    public string Name => "optimal";

    /// <summary>The smallest budget this planner meets for <paramref name="chain"/>.</summary>
    public static long MinimumBudget(Chain chain) =>
        chain.Length <= ExactUpTo ? ExhaustiveSearch.MinimumPeak(chain) : ExactMinimumPeak.For(chain).PeakBytes;

    /// <inheritdoc />
    public Schedule Plan(Chain chain)
    {
        if (chain.Length <= _exactUpTo)
            return new ExhaustiveSearch(_budget).Plan(chain, Name); // exact in bytes: nothing beats it
        RotorMinimumPeak.CheckLength(chain.Length);
        long slotBytes = Rotor.SlotBytes(chain, _budget, _slots);
        // x0 stays stored throughout, so only the rest of the budget is cut into whole slots.
        long x0 = chain.InputBytes, rest = Math.Max(0, _budget - x0);
        int slots = (int)Math.Min(_slots + 1L, (x0 + slotBytes - 1) / slotBytes + rest / slotBytes);
        ExactTable.CheckWork(chain.Length, slots); // before any O(L^3) work
        var least = ExactMinimumPeak.For(chain);
        if (_budget < least.PeakBytes)
            throw new InfeasibleBudgetException(Name, _budget, least.PeakBytes);
        var candidates = new List<Schedule> { ExactFamily.Emit(Name, chain.Length, least, 0), new StoreAll().Plan(chain) };
        var table = new ExactTable(chain, slotBytes, slots);
        if (!float.IsPositiveInfinity(table.Time(slots)))
            candidates.Add(ExactFamily.Emit(Name, chain.Length, table, slots));
        candidates.AddRange(Classic(chain));
        var best = candidates.Select(c => Simulator.Run(chain, c)).Where(t => t.PeakBytes <= _budget).MinBy(t => t.Time)!;
        return new Schedule(Name, best.Schedule.Ops);
    }

    /// <summary>The classic strategies' schedules that compete with the dynamic program.</summary>
    private IEnumerable<Schedule> Classic(Chain chain)
    {
        for (int n = 1; n <= chain.Length; n++)
            yield return new Periodic(n).Plan(chain);
        for (int s = 1; s <= chain.Length; s = s < 16 ? s + 1 : 2 * s)
            yield return new Revolve(s).Plan(chain);
        Schedule? chen = null;
        try
        {
            chen = new ChenGreedy(_budget).Plan(chain);
        }
        catch (InfeasibleBudgetException)
        {
        }
        if (chen is not null)
            yield return chen;
    }
}
