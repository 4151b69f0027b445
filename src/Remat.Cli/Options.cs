using System.CommandLine;
using System.CommandLine.Parsing;

namespace Remat.Cli;

/// <summary>Option factories shared by the commands.</summary>
internal static class Options
{
    /// <summary>A size such as 512MiB; a bad one is a parse error that says how to write it.</summary>
    public static Option<long?> Size(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (ByteSize.TryParse(text, out long bytes, out string error))
                return bytes;
            result.AddError($"{name}: {error}");
            return null;
        },
    };

    /// <summary>A whole number of at least <paramref name="min"/>.</summary>
    public static Option<int?> Count(string name, string description, int min) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            string text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (int.TryParse(text, out int n) && n >= min)
                return n;
            result.AddError($"{name}: '{text}' is not a whole number of at least {min}.");
            return null;
        },
    };
}
