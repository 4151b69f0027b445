using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Remat.Tests;

/// <summary>
/// Generated and mutated chain files and command lines against the CLI: every case must end with exit code 0, or 2
/// and a one-line "remat:" message, within the documented limit, and never with an unhandled exception.
/// The counts are those of docs/reliability.md.
/// </summary>
public partial class FuzzTests(ITestOutputHelper output)
{
    public const int ChainCases = 1200, ArgumentCases = 1500, TrainCases = 30;

    /// <summary>The documented limit of one command in these tests.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    private static readonly string[] Budgets = ["0", "1", "512MiB", "9223372036854775807B", "9223372036854775808", "-5", "abc", "1.5GB", "", "2GiB", "1e9"];
    private static readonly string[] Strategies = ["storeall", "periodic", "revolve", "chen", "optimal", "bogus"];
    private static readonly string[] BadNumbers = ["-1", "1e400", "NaN", "Infinity", "9223372036854775808", "1.5", "\"12\"", "null", "true", "-0", "1e-400", "99999999999999999999999", "[]", "{}"];

    private static (int Code, string Out, string Err) Run(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = -1;
        Exception? failure = null;
        // A thread of its own, not the thread pool, which other tests may keep busy: the limit measures the command.
        var thread = new Thread(() =>
        {
            try
            {
                code = Cli.Cli.Run(args, stdout, stderr);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(Limit), $"remat {string.Join(' ', args)} ran past {Limit.TotalSeconds} s");
        Assert.True(failure is null, $"remat {string.Join(' ', args)} threw {failure}");
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static void Check(string[] args, (int Code, string Out, string Err) r)
    {
        string command = "remat " + string.Join(' ', args.Select(a => a.Length > 60 ? a[..60] + "..." : a));
        Assert.True(r.Code is 0 or 2, $"{command}: exit code {r.Code}\n{r.Err}");
        if (r.Code == 2)
        {
            Assert.True(r.Err.StartsWith("remat: ", StringComparison.Ordinal), $"{command}: the error does not start with 'remat: ':\n{r.Err}");
            Assert.DoesNotContain("   at ", r.Err);
        }
    }

    [GeneratedRegex(@"-?\d+(\.\d+)?([eE][-+]?\d+)?")]
    private static partial Regex Number();

    [GeneratedRegex(@"""(\w+)""\s*:\s*[^,}\]]+,?")]
    private static partial Regex Field();

    /// <summary>A chain file's text: valid, or mutated one of nine ways.</summary>
    private static string ChainText(Random rng)
    {
        string valid = ChainJson.Serialize(RandomChains.Make(rng, rng.Next(1, 30)));
        switch (rng.Next(13))
        {
            case 0 or 10 or 11 or 12: return valid;
            case 1: return valid[..rng.Next(valid.Length)];
            case 2:
            {
                var numbers = Number().Matches(valid);
                var m = numbers[rng.Next(numbers.Count)];
                return valid[..m.Index] + BadNumbers[rng.Next(BadNumbers.Length)] + valid[(m.Index + m.Length)..];
            }
            case 3:
            {
                var bytes = new byte[rng.Next(0, 200)];
                rng.NextBytes(bytes);
                return Encoding.Latin1.GetString(bytes);
            }
            case 4:
            {
                var fields = Field().Matches(valid);
                var f = fields[rng.Next(fields.Count)];
                return valid.Remove(f.Index, f.Length);
            }
            case 5: return valid.Replace("\"forwardTime\"", "\"fowardTime\"");
            case 6: return """{"input":{"bytes":1},"stages":[]}""";
            case 7: return new string('[', 1000) + new string(']', 1000);
            case 8: return valid.Replace("\"savedBytes\": ", "\"savedBytes\": 0, \"x\": ");
            default: return valid.Replace("\"outputBytes\": ", "\"outputBytes\": 1" + new string('0', rng.Next(1, 25)) + ", \"o\": ");
        }
    }

    [Fact]
    public void Mutated_chain_files_end_with_a_result_or_a_clear_error()
    {
        var rng = new Random(2024);
        string path = Path.GetTempFileName();
        int errors = 0;
        try
        {
            for (int i = 0; i < ChainCases; i++)
            {
                File.WriteAllText(path, ChainText(rng));
                string[] args = rng.Next(4) == 0
                    ? ["compare", "--chain", path, "--budget", Budgets[rng.Next(Budgets.Length)]]
                    : ["plan", "--chain", path, "--strategy", Strategies[rng.Next(Strategies.Length)], "--budget", Budgets[rng.Next(Budgets.Length)], "--json"];
                var r = Run(args);
                Check(args, r);
                errors += r.Code == 2 ? 1 : 0;
            }
        }
        finally
        {
            File.Delete(path);
        }
        output.WriteLine($"{ChainCases} chain files: {errors} clear errors, {ChainCases - errors} plans");
    }

    [Fact]
    public void Huge_chains_are_planned_or_refused_quickly()
    {
        string path = Path.GetTempFileName();
        try
        {
            var stages = string.Join(",", Enumerable.Repeat("""{"forwardTime":1,"backwardTime":2,"outputBytes":1048576,"savedBytes":3145728}""", 100_000));
            File.WriteAllText(path, $$"""{"input":{"bytes":1048576},"stages":[{{stages}}]}""");
            foreach (string[] args in new[]
            {
                new[] { "plan", "--chain", path, "--strategy", "optimal", "--budget", "1GiB" },
                ["plan", "--chain", path, "--strategy", "periodic"],
                ["plan", "--chain", path, "--strategy", "revolve", "--snapshots", "30"],
                ["plan", "--chain", path, "--strategy", "chen", "--budget", "10GiB"],
                ["compare", "--chain", path],
                ["plan", "--layers", "1024", "--strategy", "optimal", "--budget", "90GiB", "--slots", "2000"],
                ["plan", "--layers", "2048", "--strategy", "periodic", "--budget", "1MiB"],
            })
            {
                Check(args, Run(args));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Random_command_lines_end_with_a_result_or_a_clear_error()
    {
        var rng = new Random(77);
        string[] commands = ["plan", "compare", "memory", "frobnicate", ""];
        string[] options =
        [
            "--layers", "--uniform", "--strategy", "--budget", "--segments", "--snapshots", "--slots", "--json", "--ops", "--chain", "--points",
            "--preset", "--hidden", "--heads", "--ffn", "--vocab", "--kv-heads", "--gated", "--seq", "--micro-batch", "--tp", "--pp", "--sp",
            "--interleave", "--dp", "--zero", "--recompute", "--recompute-layers", "--flash", "--dropout", "--activation-bytes", "--gpu-memory",
            "--recommend", "--html", "--shape",
        ];
        string[] values =
        [
            "0", "1", "3", "8", "-1", "1000001", "99999999999", "2147483647", "x", "", "output=1MiB", "saved=0", "output=-1MiB,saved=1",
            "forward=NaN", "optimal", "revolve", "chen", "periodic", "storeall", "1GiB", "0B", "/nonexistent/dir/out.html", "gpt-22b", "gpt-1t",
            "llama-2-70b", "none", "selective", "full", "on", "off", "80GiB", "9223372036854775808", "ü", "--", "/dev/null",
        ];
        string[][] bases = [["plan", "--layers", "8"], ["compare", "--layers", "6"], ["memory", "--preset", "gpt-22b"], ["plan", "--layers", "5", "--strategy", "revolve"]];
        int errors = 0;
        for (int i = 0; i < ArgumentCases; i++)
        {
            // Half start from a valid command line, half from nothing.
            var args = i % 2 == 0 ? [.. bases[rng.Next(bases.Length)]] : new List<string> { commands[rng.Next(commands.Length)] };
            for (int n = rng.Next(0, 7); n > 0; n--)
            {
                args.Add(options[rng.Next(options.Length)]);
                if (rng.Next(5) > 0)
                    args.Add(values[rng.Next(values.Length)]);
            }
            var r = Run([.. args]);
            Check([.. args], r);
            errors += r.Code == 2 ? 1 : 0;
        }
        output.WriteLine($"{ArgumentCases} command lines: {errors} clear errors, {ArgumentCases - errors} results");
    }

    [Fact]
    public void Random_train_command_lines_end_with_a_result_or_a_clear_error()
    {
        var rng = new Random(5);
        string[] sizes = ["0", "-1", "1", "2", "3", "x", "1000000000", "70000"];
        for (int i = 0; i < TrainCases; i++)
        {
            string[] args =
            [
                "train", "--model", new[] { "mlp", "hourglass", "gpt", "llama", "cnn" }[rng.Next(5)], "--layers", sizes[rng.Next(sizes.Length)],
                "--width", sizes[rng.Next(sizes.Length)], "--batch", sizes[rng.Next(sizes.Length)], "--steps", "1", "--seq", "4",
                "--strategy", new[] { "storeall", "periodic,optimal", "auto", "plain,bogus" }[rng.Next(4)], "--budget", Budgets[rng.Next(Budgets.Length)],
            ];
            Check(args, Run(args));
        }
    }
}
