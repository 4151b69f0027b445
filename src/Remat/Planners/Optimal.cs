namespace Remat.Planners;

/// <summary>
/// The least time among schedules of the chain model whose peak is within the budget.
/// Short chains are searched exactly (<see cref="ExhaustiveSearch"/>); longer ones take the best of the
/// rotor dynamic program (<see cref="Rotor"/>), so the result is never worse than rotor's.
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
    public Schedule Plan(Chain chain) =>
        chain.Length <= _exactUpTo
            ? new ExhaustiveSearch(_budget).Plan(chain, Name)
            : _rotor.Plan(chain, Name);
}
