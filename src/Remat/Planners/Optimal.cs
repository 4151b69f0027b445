namespace Remat.Planners;

/// <summary>
/// The least time among schedules of the chain model whose peak is within the budget: Remat's program over
/// <see cref="ExactFamily"/>, searched whole where that is cheap (<see cref="ExactSearch"/>, which matched the
/// exhaustive optimum on every random chain tested) and tabled without consuming parts beyond (<see cref="ExactTable"/>).
/// Slot rounding can hide a schedule whose exact peak sits at the budget, so the least-peak schedules, store-all and
/// the classic strategies compete with the program's pick. Chains of up to 8 stages are searched exhaustively in
/// exact bytes instead.
/// </summary>
public sealed class Optimal : IPlanner
{
    /// <summary>Chains up to this many stages are searched exhaustively.</summary>
    public const int ExactUpTo = ExhaustiveSearch.MaxStages;

    /// <summary>The default number of memory slots of the dynamic program.</summary>
    public const int DefaultSlots = 1000;

    /// <summary>The longest chain the dynamic programs take (their least-peak programs alone are O(L^3)).</summary>
    public const int MaxStages = 1024;

    /// <summary>Refuses chains longer than <see cref="MaxStages"/>.</summary>
    internal static void CheckLength(int length)
    {
        if (length > MaxStages)
            throw new PlanningLimitException($"the dynamic program takes at most {MaxStages} stages, and the chain has {length}; group stages, or use revolve or periodic.");
    }

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

    private readonly long _budget;
    private readonly int _slots, _exactUpTo;

    /// <summary>A planner for <paramref name="budgetBytes"/>; <paramref name="slots"/> is the resolution of the dynamic program.</summary>
    public Optimal(long budgetBytes, int slots = DefaultSlots) : this(budgetBytes, slots, ExactUpTo)
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

    /// <summary>The smallest budget this planner meets for <paramref name="chain"/> (with partial records where it has them).</summary>
    public static long MinimumBudget(Chain chain) =>
        chain.HasPartialRecords ? PartialRecordChoice.MinimumBudget(chain, FullRecordsMinimum) : FullRecordsMinimum(chain);

    private static long FullRecordsMinimum(Chain chain) =>
        chain.Length <= ExactUpTo ? ExhaustiveSearch.MinimumPeak(chain) : LeastPeak(chain);

    /// <summary>The least peak of the program Optimal runs on a chain beyond <see cref="ExactUpTo"/> stages.</summary>
    private static long LeastPeak(Chain chain) =>
        ExactSearch.Fits(chain.Length) ? ExactSearch.LeastPeakOf(chain).PeakBytes : ExactMinimumPeak.For(chain).PeakBytes;

    /// <summary>
    /// The fastest schedule within the budget; where stages have partial records, with the choice of record for each
    /// stage (<see cref="PartialRecordChoice"/>).
    /// </summary>
    public Schedule Plan(Chain chain) =>
        chain.HasPartialRecords ? PartialRecordChoice.Plan(chain, _budget, FullRecords, Name) : FullRecords(chain);

    /// <summary>The fastest schedule within the budget with every stage's full record.</summary>
    private Schedule FullRecords(Chain chain)
    {
        if (chain.Length <= _exactUpTo)
            return new ExhaustiveSearch(_budget).Plan(chain, Name); // exact in bytes: nothing beats it
        CheckLength(chain.Length);
        var storeAll = Simulator.Run(chain, new StoreAll().Plan(chain));
        if (storeAll.PeakBytes <= _budget) // no schedule is faster than one forward and one backward per stage
            return new Schedule(Name, storeAll.Schedule.Ops);
        var (slotBytes, slots) = Resolution(chain, _budget, _slots); // refuses too long a computation before any
        long leastPeak = LeastPeak(chain);
        if (_budget < leastPeak)
            throw new InfeasibleBudgetException(Name, _budget, leastPeak);
        var candidates = Shared(chain, ExactMinimumPeak.For(chain), [_budget]);
        if (ExactSearch.Fits(chain.Length))
            candidates = candidates.Append(ExactSearch.LeastPeakOf(chain).Schedule);
        var (time, program) = Program(chain, slotBytes, slots, ExactSearch.Fits(chain.Length, slots));
        if (!float.IsPositiveInfinity(time(slots)))
            candidates = candidates.Append(ExactFamily.Emit(Name, chain.Length, program, slots));
        var best = candidates.Select(c => Simulator.Run(chain, c)).Where(t => t.PeakBytes <= _budget).MinBy(t => t.Time)!;
        return new Schedule(Name, best.Schedule.Ops);
    }

    /// <summary>
    /// The schedules <see cref="Optimal"/> picks from at every budget up to <paramref name="maxBudget"/>, for a chain
    /// longer than <see cref="ExactUpTo"/>: tables of <paramref name="slots"/> slots over <paramref name="maxBudget"/>,
    /// a quarter of it, a sixteenth and so on down to the least peak (the whole family's search instead of a table
    /// where it fits, as in <see cref="Plan"/>), each read at every memory where its time falls,
    /// so every budget is planned with at least a quarter of the slots Optimal would give it; with the schedules that
    /// compete with the tables (ChenGreedy's at each of <paramref name="chenBudgets"/>).
    /// </summary>
    internal static IEnumerable<Schedule> Sweep(Chain chain, long maxBudget, int slots, IEnumerable<long> chenBudgets)
    {
        CheckLength(chain.Length);
        var least = ExactMinimumPeak.For(chain);
        for (long budget = maxBudget; ; budget /= 4)
        {
            var (slotBytes, memories) = Resolution(chain, Math.Max(budget, least.PeakBytes), slots);
            // The sweep reads every memory of several tables, so the search is charged ten times the memories.
            var (time, program) = Program(chain, slotBytes, memories, ExactSearch.Fits(chain.Length, 10L * memories));
            float last = float.PositiveInfinity;
            for (int m = 0; m <= memories; m++)
                if (time(m) < last)
                {
                    last = time(m);
                    yield return ExactFamily.Emit("optimal", chain.Length, program, m);
                }
            if (budget <= least.PeakBytes || slotBytes == 1)
                break;
        }
        foreach (var schedule in Shared(chain, least, chenBudgets))
            yield return schedule;
        if (ExactSearch.Fits(chain.Length))
            yield return ExactSearch.LeastPeakOf(chain).Schedule;
        yield return new StoreAll().Plan(chain);
    }

    /// <summary>
    /// The program at <paramref name="memories"/> slots of <paramref name="slotBytes"/> bytes: the whole family's search
    /// where <paramref name="search"/> says it is cheap enough, else the table of the family without consuming parts.
    /// </summary>
    private static (Func<int, float> Time, ExactFamily.IChooser Program) Program(Chain chain, long slotBytes, int memories, bool search)
    {
        if (search)
        {
            var exact = new ExactSearch(chain, slotBytes);
            return (m => exact.Time(m), exact);
        }
        var table = new ExactTable(chain, slotBytes, memories);
        return (table.Time, table);
    }

    /// <summary>
    /// The slot size of the table for a budget, and the memory in slots that the budget reaches: x0 stays stored
    /// throughout, so only the rest of the budget is cut into whole slots. Refuses a table too long to compute.
    /// </summary>
    internal static (long SlotBytes, int Slots) Resolution(Chain chain, long budget, int slots)
    {
        long slotBytes = SlotBytes(chain, budget, slots);
        long x0 = chain.InputBytes, rest = Math.Max(0, budget - x0);
        int memories = (int)Math.Min(slots + 1L, (x0 + slotBytes - 1) / slotBytes + rest / slotBytes);
        ExactTable.CheckWork(chain.Length, memories);
        return (slotBytes, memories);
    }

    /// <summary>The schedules that compete with the dynamic program's pick: the family's least peak and the classic strategies.</summary>
    private static IEnumerable<Schedule> Shared(Chain chain, ExactMinimumPeak least, IEnumerable<long> chenBudgets)
    {
        yield return ExactFamily.Emit("optimal", chain.Length, least, 0);
        for (int n = 1; n <= chain.Length; n++)
            yield return new Periodic(n).Plan(chain);
        for (int s = 1; s <= chain.Length; s = s < 16 ? s + 1 : 2 * s)
            yield return new Revolve(s).Plan(chain);
        foreach (long budget in chenBudgets)
        {
            Schedule? chen = null;
            try
            {
                chen = new ChenGreedy(budget).Plan(chain);
            }
            catch (InfeasibleBudgetException)
            {
            }
            if (chen is not null)
                yield return chen;
        }
    }
}
