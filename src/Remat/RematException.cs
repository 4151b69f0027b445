namespace Remat;

/// <summary>
/// The base of every error Remat raises for a caller's mistake or an impossible request: a bad chain, a bad
/// schedule, a budget below the minimum, a chain beyond a planner's limits, a failure inside a checkpoint's
/// backward. Catch this one type to handle them all; the message names the problem and the fix.
/// </summary>
public class RematException : Exception
{
    /// <summary>An error with its message.</summary>
    public RematException(string message) : base(message) { }

    /// <summary>An error with its message and the exception that caused it.</summary>
    public RematException(string message, Exception inner) : base(message, inner) { }
}
