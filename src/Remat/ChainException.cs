namespace Remat;

/// <summary>A chain (or a chain file) that breaks the chain model; the message names the stage and field.</summary>
public sealed class ChainException(string message) : RematException(message);
