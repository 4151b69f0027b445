using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

// Remat against PyTorch on the same machine, in one run: the same architectures trained by `remat train` and by
// bench/peers/torch_peer.py, each configuration in a fresh process, the two frameworks interleaved (A B A B) so that
// the machine's drift falls on both. Writes the tables and plots into docs/benchmarks.md and docs/img/.
// Usage (from the repository root, after `dotnet build -c Release`):
//   dotnet run --project bench/Remat.Peers -c Release -- [--reps 2] [--steps 5]
//   dotnet run --project bench/Remat.Peers -c Release -- --replot bench/peers/results.json   (tables and plots again, no runs)

var options = args.Select((a, i) => (a, i)).Where(t => t.a.StartsWith("--")).ToDictionary(t => t.a, t => args[t.i + 1]);
string root = Directory.GetCurrentDirectory();
int reps = int.Parse(options.GetValueOrDefault("--reps", "2"), CultureInfo.InvariantCulture);
int steps = int.Parse(options.GetValueOrDefault("--steps", "5"), CultureInfo.InvariantCulture);
string cli = Path.Combine(root, "src/Remat.Cli/bin/Release/net10.0/Remat.Cli.dll");
string peer = Path.Combine(root, "bench/peers/torch_peer.py");
if (!File.Exists(cli) || !File.Exists(peer))
    throw new InvalidOperationException("run from the repository root after `dotnet build -c Release`.");

Architecture[] architectures =
[
    new("mlp", "64-stage uniform MLP (width 1024, batch 256)", ["--model", "mlp", "--layers", "64", "--width", "1024", "--batch", "256"]),
    new("hourglass", "64-stage hourglass MLP (widths 128 to 2048, batch 256)", ["--model", "hourglass", "--layers", "64", "--width", "512", "--batch", "256"]),
    new("gpt", "8 GPT layers (hidden 256, 4 heads, sequence 256, batch 8)", ["--model", "gpt", "--layers", "8", "--width", "256", "--seq", "256", "--batch", "8"]),
];
int[] segments = [2, 4, 8];
if (options.TryGetValue("--replot", out string? saved))
{
    var old = JsonSerializer.Deserialize<List<Result>>(File.ReadAllText(saved))!;
    reps = old.Max(r => r.Rep);
    // The machine is the one the results were measured on, as the report already names it, not this one.
    var measuredOn = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(Path.Combine(root, "docs/benchmarks.md")), @"Machine: (.*?); Remat on");
    Report(old, measuredOn.Success ? measuredOn.Groups[1].Value : "not recorded");
    return;
}
var results = new List<Result>();
foreach (var arch in architectures)
{
    for (int rep = 1; rep <= reps; rep++)
    {
        Console.Error.WriteLine($"{arch.Name}: repetition {rep} of {reps}");
        results.Add(Remat(arch, "plain", [], rep));
        results.Add(Torch(arch, "none", rep));
        results.Add(Remat(arch, "storeall", [], rep));
        foreach (int n in segments)
        {
            results.Add(Torch(arch, $"seq:{n}", rep));
            results.Add(Remat(arch, $"periodic:{n}", ["--segments", n.ToString(CultureInfo.InvariantCulture)], rep));
        }
        foreach (int n in segments)
        {
            long budget = results.Last(r => r.Arch == arch.Name && r.Config == $"periodic:{n}").PlannedPeakBytes;
            results.Add(Remat(arch, $"optimal:{n}", ["--budget", budget.ToString(CultureInfo.InvariantCulture)], rep));
        }
    }
}
Report(results, $"{Environment.ProcessorCount} cores ({CpuModel()}), {Environment.OSVersion}, .NET {Environment.Version}");
return;

Result Remat(Architecture arch, string config, string[] extra, int rep)
{
    string strategy = config.Split(':')[0];
    var json = Run("dotnet", [cli, "train", .. arch.Args, "--strategy", strategy, .. extra, "--steps", steps.ToString(CultureInfo.InvariantCulture), "--json"]);
    var r = JsonDocument.Parse(json).RootElement[0];
    return new Result(arch.Name, "Remat", config, rep, r.GetProperty("measuredPeakBytes").GetInt64(), r.GetProperty("plannedPeakBytes").GetInt64(),
        r.GetProperty("medianStepSeconds").GetDouble());
}

Result Torch(Architecture arch, string mode, int rep)
{
    var json = Run("/usr/bin/python3", [peer, .. arch.Args, "--mode", mode, "--steps", steps.ToString(CultureInfo.InvariantCulture)]);
    var r = JsonDocument.Parse(json).RootElement;
    return new Result(arch.Name, "PyTorch " + r.GetProperty("version").GetString(), mode, rep, r.GetProperty("measuredPeakBytes").GetInt64(), 0,
        r.GetProperty("medianStepSeconds").GetDouble());
}

static string Run(string file, string[] arguments)
{
    var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var a in arguments)
        info.ArgumentList.Add(a);
    using var process = Process.Start(info)!;
    string output = process.StandardOutput.ReadToEnd();
    string error = process.StandardError.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0)
        throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
    return output;
}

void Report(List<Result> all, string machine)
{
    var md = new StringBuilder();
    md.AppendLine("<!-- peers:begin (written by bench/Remat.Peers) -->");
    md.AppendLine("## Remat against PyTorch, in one run");
    md.AppendLine();
    md.AppendLine("```sh");
    md.AppendLine("dotnet build -c Release && dotnet run --project bench/Remat.Peers -c Release -- " +
                  $"--reps {reps} --steps {steps}");
    md.AppendLine("```");
    md.AppendLine();
    string torchVersion = all.First(r => r.Framework.StartsWith("PyTorch")).Framework;
    md.AppendLine($"Machine: {machine}; " +
                  $"Remat on TorchSharp-cpu 0.107.0 (libtorch 2.10); {torchVersion} from Debian's python3-torch with " +
                  "libopenblas0-pthread, 2 threads each. Every configuration runs in a fresh process: 3 warm-up steps, then " +
                  $"{steps} measured steps (median time, largest peak). It runs {reps} times, the two frameworks interleaved " +
                  "(A B A B). Tables show the median over the repetitions, with the range in brackets. Peak memory is the rise of " +
                  "the resident set over a step, measured the same way in both (glibc's mmap threshold at 64 KiB, " +
                  "`/proc/self/clear_refs`, `VmHWM`). Overheads are relative to each framework's own baseline: Remat's store-all " +
                  "executor, PyTorch without checkpointing. `~` marks an overhead whose repetitions' times overlap the baseline's: " +
                  "a difference within the noise of the machine.");
    md.AppendLine();
    foreach (var arch in architectures)
    {
        var rows = all.Where(r => r.Arch == arch.Name).GroupBy(r => (r.Framework, r.Config)).Select(g => Row.Of(g)).ToList();
        var remat = rows.Single(r => r.Config == "storeall");
        var torch = rows.Single(r => r.Config == "none");
        var plain = rows.Single(r => r.Config == "plain");
        md.AppendLine($"### {arch.Title}");
        md.AppendLine();
        md.AppendLine("| framework | configuration | measured peak | median step | overhead |");
        md.AppendLine("|---|---|---:|---:|---:|");
        foreach (var r in rows)
        {
            var baseline = r.Framework == "Remat" ? remat : torch;
            // Within the noise when its repetitions' times overlap the baseline's.
            bool noise = r.StepMin <= baseline.StepMax && baseline.StepMin <= r.StepMax;
            string overhead = r.Config is "plain" or "storeall" or "none" ? "-" : Percent(r.Step / baseline.Step - 1) + (noise ? "~" : "");
            md.AppendLine($"| {r.Framework} | {Describe(r.Config)} | {Mib(r.Peak)} [{Mib(r.PeakMin)}-{Mib(r.PeakMax)}] | " +
                          $"{r.Step * 1000:0} ms [{r.StepMin * 1000:0}-{r.StepMax * 1000:0}] | {overhead} |");
        }
        md.AppendLine();
        md.AppendLine($"- Framework parity (Remat store-all / PyTorch without checkpointing): step time {remat.Step / torch.Step:0.00}x, " +
                      $"peak {(double)remat.Peak / torch.Peak:0.00}x.");
        md.AppendLine($"- The executor's own bookkeeping (store-all through the executor / the same step without it): {Percent(remat.Step / plain.Step - 1)}.");
        foreach (int n in segments)
        {
            var opt = rows.Single(r => r.Config == $"optimal:{n}");
            var seq = rows.Single(r => r.Config == $"seq:{n}");
            md.AppendLine($"- At the memory of {n} segments: Remat's optimal {Percent(opt.Step / remat.Step - 1)} at {Mib(opt.Peak)}, " +
                          $"PyTorch's checkpoint_sequential {Percent(seq.Step / torch.Step - 1)} at {Mib(seq.Peak)}.");
        }
        md.AppendLine();
        Plot(arch, rows, remat, torch);
        md.AppendLine($"![memory against overhead, {arch.Name}](img/peers-{arch.Name}.png)");
        md.AppendLine();
    }
    md.AppendLine("<!-- peers:end -->");
    string path = Path.Combine(root, "docs/benchmarks.md");
    string doc = File.ReadAllText(path);
    int begin = doc.IndexOf("<!-- peers:begin", StringComparison.Ordinal), end = doc.IndexOf("<!-- peers:end -->", StringComparison.Ordinal);
    doc = begin < 0 ? doc.TrimEnd() + "\n\n" + md : doc[..begin] + md + "\n" + doc[(end + "<!-- peers:end -->".Length)..].TrimStart('\n');
    File.WriteAllText(path, doc);
    File.WriteAllText(Path.Combine(root, "bench/peers/results.json"), JsonSerializer.Serialize(all, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine(md);
}

void Plot(Architecture arch, List<Row> rows, Row remat, Row torch)
{
    var plt = new ScottPlot.Plot();
    void Series(string label, IEnumerable<Row> points, Row baseline)
    {
        var list = points.OrderBy(r => r.Peak).ToList();
        var s = plt.Add.Scatter(list.Select(r => r.Peak / 1048576.0).ToArray(), list.Select(r => 100 * (r.Step / baseline.Step - 1)).ToArray());
        s.LegendText = label;
        s.MarkerSize = 9;
    }
    Series("Remat periodic (2, 4, 8 segments)", rows.Where(r => r.Config.StartsWith("periodic")), remat);
    Series("Remat optimal (at periodic's planned peak)", rows.Where(r => r.Config.StartsWith("optimal")), remat);
    Series("PyTorch checkpoint_sequential (2, 4, 8)", rows.Where(r => r.Config.StartsWith("seq")), torch);
    Series("Remat store-all (its baseline)", [remat], remat);
    Series("PyTorch without checkpointing (its baseline)", [torch], torch);
    plt.Title(arch.Title);
    plt.XLabel("measured peak memory of a step (MiB)");
    plt.YLabel("step time overhead (%)");
    plt.ShowLegend(ScottPlot.Alignment.UpperRight);
    plt.SavePng(Path.Combine(root, $"docs/img/peers-{arch.Name}.png"), 900, 520);
}

static string Describe(string config) => config switch
{
    "plain" => "the step without the executor",
    "storeall" => "store-all (executor)",
    "none" => "no checkpointing",
    _ when config.StartsWith("periodic:") => $"periodic, {config[9..]} segments",
    _ when config.StartsWith("optimal:") => $"optimal at periodic {config[8..]}'s planned peak",
    _ => $"checkpoint_sequential, {config[4..]} segments",
};

static string Mib(double bytes) => (bytes / 1048576).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";

static string Percent(double x) => (100 * x).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + "%";

static string CpuModel() =>
    File.Exists("/proc/cpuinfo")
        ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
        : "unknown CPU";

/// <summary>One architecture: its name, its title, and the flags that both `remat train` and the peer script take.</summary>
internal sealed record Architecture(string Name, string Title, string[] Args);

/// <summary>One run of one configuration.</summary>
internal sealed record Result(string Arch, string Framework, string Config, int Rep, long MeasuredPeakBytes, long PlannedPeakBytes, double MedianStepSeconds);

/// <summary>A configuration over its repetitions: medians and ranges.</summary>
internal sealed record Row(string Framework, string Config, double Peak, double PeakMin, double PeakMax, double Step, double StepMin, double StepMax)
{
    public static Row Of(IGrouping<(string Framework, string Config), Result> g)
    {
        static double Median(IEnumerable<double> xs)
        {
            var s = xs.Order().ToArray();
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
        var peaks = g.Select(r => (double)r.MeasuredPeakBytes).ToArray();
        var times = g.Select(r => r.MedianStepSeconds).ToArray();
        return new Row(g.Key.Framework, g.Key.Config, Median(peaks), peaks.Min(), peaks.Max(), Median(times), times.Min(), times.Max());
    }
}
