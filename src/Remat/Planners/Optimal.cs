namespace Remat.Planners;

/// <summary>
/// The least time among schedules of the chain model whose peak is within the budget.
/// Short chains are searched exactly (<see cref="ExhaustiveSearch"/>). Longer ones take the fastest of the rotor
/// dynamic program (<see cref="Rotor"/>) and of the classic strategies that fit: periodic for every number of
/// segments, Revolve for 1 to 16 snapshots and powers of two beyond, and Chen's search. The program alone can lose
/// to them where slot rounding hides their exact peak; with them the result is never worse than any of them.
/// </summary>
public sealed class Optimal : IPlanner
{
    /// <summary>Chains up to this many stages are searched exactly.</summary>
    public const int ExactUpTo = ExhaustiveSearch.MaxStages;

    private readonly long _budget;
    private readonly int _exactUpTo;
    private readonly Rotor _rotor;

    /// <summary>A planner for <paramref name="budgetBytes"/>; <paramref name="slots"/> is the resolution of the dynamic program.</summary>
    public Optimal(long budgetBytes, int slots = Rotor.DefaultSlots) : this(budgetBytes, slots, ExactUpTo)
    {
    }

    /// <summary>As the public constructor, with exact search up to <paramref name="exactUpTo"/> stages (0: never).</summary>
    internal Optimal(long budgetBytes, int slots, int exactUpTo)
    {
        _rotor = new Rotor(budgetBytes, slots);
        _budget = budgetBytes;
        _exactUpTo = Math.Min(exactUpTo, ExhaustiveSearch.MaxStages);
    }

    /// <inheritdoc />
    public string Name => "optimal";

    /// <summary>The smallest budget this planner meets for <paramref name="chain"/>.</summary>
    public static long MinimumBudget(Chain chain) =>
        chain.Length <= ExactUpTo ? ExhaustiveSearch.MinimumPeak(chain) : new RotorMinimumPeak(chain).PeakBytes;

    /// <inheritdoc />
    public Schedule Plan(Chain chain)
    {
        if (chain.Length <= _exactUpTo)
            return new ExhaustiveSearch(_budget).Plan(chain, Name);
        var best = Simulator.Run(chain, _rotor.Plan(chain, Name));
        foreach (var candidate in Classic(chain))
        {
            var trace = Simulator.Run(chain, candidate);
            if (trace.PeakBytes <= _budget && trace.Time < best.Time)
                best = trace;
        }
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
