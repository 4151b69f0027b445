namespace Remat.Cli;

/// <summary>A mistake in what the user asked for: printed without a stack trace, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
