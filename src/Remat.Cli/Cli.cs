using System.CommandLine;

namespace Remat.Cli;

/// <summary>The <c>remat</c> command: parses, runs, and turns every user mistake into a message and exit code 2.</summary>
public static class Cli
{
    /// <summary>Exit code of a usage error: bad arguments, a bad chain file, an infeasible budget.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code of a command that Ctrl-C stopped (128 + SIGINT).</summary>
    public const int Interrupted = 130;

    /// <summary>Says that Ctrl-C stopped the command and that <paramref name="nothing"/>; returns <see cref="Interrupted"/>.</summary>
    internal static int Stopped(TextWriter error, string nothing)
    {
        error.WriteLine($"remat: stopped; {nothing}.");
        return Interrupted;
    }

    /// <summary>Runs <c>remat</c> with <paramref name="args"/>, writing to the given writers; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        CpSat.GraphPlanner.Register(); // optimal plans graphs with the CP-SAT solver
        var root = new RootCommand("Remat: activation checkpointing for .NET. Plan which activations to keep and which to recompute.")
        {
            PlanCommand.Create(output, error),
            CompareCommand.Create(output),
            TrainCommand.Create(output, error),
            MemoryCommand.Create(output),
            Viz.VizCommand.Create(output),
        };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
                error.WriteLine($"remat: {e.Message}");
            error.WriteLine("Run 'remat --help', or 'remat COMMAND --help', for the options.");
            return UsageError;
        }
        try
        {
            // Ctrl-C cancels the running command, which stops at its next step and writes nothing half-done.
            return parse.Invoke(new InvocationConfiguration
            {
                Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
            });
        }
        catch (Exception e) when (e is UsageException or RematException)
        {
            error.WriteLine($"remat: {InCliTerms(e.Message)}");
            return UsageError;
        }
    }

    /// <summary>The library names its settings as a program sets them; the command's user sets them by these options.</summary>
    private static readonly (string Library, string Cli)[] Terms =
    [
        ("PlanOptions.Slots = ", "--slots "),
        ("GraphPlanner's timeLimit", "--time-limit"),
        ("PlanOptions.TimeLimit", "--time-limit"),
        ("GraphPlanner in Remat.CpSat", "remat plan --graph"),
    ];

    private static string InCliTerms(string message) => Terms.Aggregate(message, (m, t) => m.Replace(t.Library, t.Cli, StringComparison.Ordinal));
}
