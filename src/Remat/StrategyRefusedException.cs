namespace Remat;

/// <summary>
/// A strategy asked to plan a model it does not plan (a chain strategy and a graph that is not a chain); it names the
/// strategies that plan the model, so a caller can fall back to one of them.
/// </summary>
public sealed class StrategyRefusedException(string strategy, IReadOnlyList<string> strategies, string message) : RematException(message)
{
    /// <summary>The strategy that was asked.</summary>
    public string Strategy { get; } = strategy;

    /// <summary>The strategies that plan the model, in the registry's order.</summary>
    public IReadOnlyList<string> Strategies { get; } = strategies;
}
