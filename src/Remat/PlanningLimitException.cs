namespace Remat;

/// <summary>A chain beyond what a planner takes (too many stages, too large a table); the message says what to change.</summary>
public sealed class PlanningLimitException(string message) : RematException(message);
