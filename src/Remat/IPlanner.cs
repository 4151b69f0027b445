namespace Remat;

/// <summary>Makes a schedule for a chain. Every planner's output is valid under <see cref="Simulator"/>.</summary>
public interface IPlanner
{
    /// <summary>The strategy's name as the CLI and the plan JSON spell it.</summary>
    string Name { get; }

    /// <summary>
    /// The schedule for <paramref name="chain"/>; throws <see cref="InfeasibleBudgetException"/> when the
    /// planner's budget is below the smallest one it can meet.
    /// </summary>
    Schedule Plan(Chain chain);
}
