namespace Remat;

/// <summary>
/// A chain or a graph (or its file) that breaks the model of docs/model.md; the message names the stage and field. A
/// chain is the graph of a sequence, so one error serves both.
/// </summary>
public sealed class ChainException(string message) : RematException(message);
