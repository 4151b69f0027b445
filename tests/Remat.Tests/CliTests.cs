using System.Text.Json;
using Remat.Cli;

namespace Remat.Tests;

public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Cli.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Plan_json_follows_the_spec_and_its_figures_are_the_simulators()
    {
        var (code, json, err) = Run("plan", "--layers", "12", "--strategy", "optimal", "--budget", "512MiB", "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("optimal", root.GetProperty("strategy").GetString());
        Assert.Equal(12, root.GetProperty("stages").GetInt32());
        Assert.Equal(512L << 20, root.GetProperty("budgetBytes").GetInt64());
        var ops = root.GetProperty("ops").EnumerateArray()
            .Select(o => new Op(Enum.Parse<OpKind>(o.GetProperty("op").GetString()!), o.TryGetProperty("stage", out var s) ? s.GetInt32() : 0));
        var chain = Chain.Uniform(12, 32L << 20, 96L << 20, 1, 2);
        var trace = Simulator.Run(chain, new Schedule("optimal", ops));
        Assert.Equal(trace.PeakBytes, root.GetProperty("peakBytes").GetInt64());
        Assert.Equal(trace.Time, root.GetProperty("time").GetDouble());
        Assert.Equal(trace.ForwardCount, root.GetProperty("forwardCount").GetInt64());
        Assert.Equal(trace.Time / chain.BaselineTime - 1, root.GetProperty("overhead").GetDouble(), 12);
        Assert.True(trace.PeakBytes <= 512L << 20);
    }

    [Fact]
    public void A_strategy_without_a_budget_reports_a_null_budget()
    {
        var (code, json, _) = Run("plan", "--layers", "9", "--strategy", "periodic", "--json");
        Assert.Equal(0, code);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(json).RootElement.GetProperty("budgetBytes").ValueKind);
    }

    [Fact]
    public void The_summary_names_peak_time_overhead_and_the_recomputed_stages()
    {
        var (code, text, _) = Run("plan", "--layers", "16", "--strategy", "periodic");
        Assert.Equal(0, code);
        Assert.Contains("peak", text);
        Assert.Contains("overhead +", text);
        Assert.Contains("stages 1-12 once", text);
    }

    [Fact]
    public void An_infeasible_budget_exits_2_and_names_the_smallest_budget_that_works()
    {
        var (code, _, err) = Run("plan", "--layers", "16", "--budget", "10MiB");
        Assert.Equal(Cli.Cli.UsageError, code);
        Assert.Contains("smallest budget that works is", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Theory]
    [InlineData("plan", "--layers", "0")]
    [InlineData("plan", "--layers", "4", "--budget", "lots")]
    [InlineData("plan", "--layers", "4", "--strategy", "magic")]
    [InlineData("plan", "--chain", "/does/not/exist.json")]
    [InlineData("plan", "--layers", "4", "--chain", "x.json")]
    [InlineData("plan")]
    [InlineData("plan", "--layers", "4", "--uniform", "output=1MiB,saved=1KiB")]
    [InlineData("plan", "--layers", "4", "--strategy", "optimal")]
    [InlineData("frobnicate")]
    public void Usage_errors_exit_2_with_a_message_and_no_stack_trace(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(Cli.Cli.UsageError, code);
        Assert.StartsWith("remat: ", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void Compare_lists_every_strategy_and_the_frontier()
    {
        var (code, text, err) = Run("compare", "--layers", "20", "--budget", "1GiB");
        Assert.True(code == 0, err);
        var lines = text.Split('\n');
        foreach (string name in new[] { "storeall", "periodic", "revolve", "chen", "optimal" })
        {
            // A planned row: peak, time, overhead, forwards, and whether it fits; not "needs at least".
            var row = lines.Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
            Assert.Matches(@"\s(fits|over)\s", row);
        }
        Assert.Matches(@"\sfits\s", lines.Single(l => l.StartsWith("optimal ", StringComparison.Ordinal)));
        Assert.Contains("frontier", text);
    }

    [Fact]
    public void A_chain_file_is_planned_like_the_same_chain_given_by_flags()
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, ChainJson.Serialize(Chain.Uniform(8, 1 << 20, 3 << 20, 1, 2)));
        try
        {
            var fromFile = Run("plan", "--chain", path, "--strategy", "revolve", "--snapshots", "3", "--json");
            var fromFlags = Run("plan", "--layers", "8", "--uniform", "output=1MiB,saved=3MiB", "--strategy", "revolve", "--snapshots", "3", "--json");
            Assert.Equal(fromFlags.Out, fromFile.Out);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("storeall")]
    [InlineData("periodic")]
    public void Plan_plans_a_graph_with_any_strategy_that_plans_graphs(string strategy)
    {
        var (code, json, err) = Run("plan", "--graph", "unet", "--strategy", strategy, "--json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(json);
        var graph = GraphModels.UNet();
        var ops = doc.RootElement.GetProperty("ops").EnumerateArray()
            .Select(o => (o.GetProperty("op").GetString()!, o.TryGetProperty("stage", out var v) ? v.GetInt32() : 0)).ToArray();
        var planned = Planner.Plan(graph, new PlanOptions { Strategy = strategy });
        Assert.Equal(planned.Schedule.Ops.Select(o => (o.Kind.ToString(), o.Kind == OpKind.Loss ? 0 : o.Stage)), ops);
        Assert.True(doc.RootElement.GetProperty("graph").GetBoolean());
    }

    [Fact]
    public void Plan_refuses_a_chain_strategy_for_a_graph_naming_those_that_plan_it()
    {
        var (code, _, err) = Run("plan", "--graph", "unet", "--strategy", "revolve");
        Assert.Equal(2, code);
        Assert.Contains("revolve plans chains", err);
        Assert.Contains("storeall, periodic, optimal", err);
        Assert.DoesNotContain("   at ", err);
    }
}

/// <summary>remat train profiles memory through the resident set: no other test may allocate meanwhile.</summary>
[CollectionDefinition("measures memory", DisableParallelization = true)]
public class MemoryMeasuringCollection;

[Collection("measures memory")]
public class TrainCliTests
{
    [Fact]
    public void Train_gives_identical_losses_across_strategies_and_reports_every_field()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Cli.Run(["train", "--model", "hourglass", "--layers", "9", "--width", "256", "--batch", "512", "--steps", "3",
            "--strategy", "storeall,periodic,revolve,chen,optimal,auto", "--budget", "64MiB", "--json"], output, error);
        Assert.True(code == 0, error.ToString());
        using var doc = JsonDocument.Parse(output.ToString());
        var rows = doc.RootElement.EnumerateArray().ToArray();
        Assert.Equal(["storeall", "periodic", "revolve", "chen", "optimal", "auto"], rows.Select(r => r.GetProperty("strategy").GetString()));
        var losses = rows.Select(r => r.GetProperty("finalLoss").GetDouble()).Distinct().ToArray();
        Assert.True(losses.Length == 1, $"final losses differ across strategies: {string.Join(", ", losses)}");
        foreach (var r in rows)
        {
            Assert.True(r.GetProperty("plannedPeakBytes").GetInt64() > 0);
            Assert.True(r.GetProperty("medianStepSeconds").GetDouble() > 0);
        }
        // At batch 512 and width 256 every activation is 128 KiB to 2 MiB, so the resident set follows the tensors:
        // each strategy's measured peak must be near its planned peak (wide margins: allocator noise).
        foreach (var r in rows)
        {
            long measured = r.GetProperty("measuredPeakBytes").GetInt64(), planned = r.GetProperty("plannedPeakBytes").GetInt64();
            long worst = r.GetProperty("worstStepPeakBytes").GetInt64();
            Assert.True(worst >= measured, $"{r.GetProperty("strategy").GetString()}: the worst step's peak {worst} is below the median step's {measured}");
            Assert.True(measured >= planned / 2 && measured <= planned * 3 / 2 + (4L << 20),
                $"{r.GetProperty("strategy").GetString()}: measured {measured} bytes against a planned {planned}");
        }
        Assert.Equal(JsonValueKind.Null, rows[0].GetProperty("overhead").ValueKind);
        Assert.Equal(JsonValueKind.Number, rows[1].GetProperty("overhead").ValueKind);
    }

    [Fact]
    public void Train_a_llama_model_gives_every_strategy_the_same_loss_and_peaks_near_the_plan()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Cli.Run(["train", "--model", "llama", "--layers", "4", "--width", "256", "--seq", "128", "--batch", "16", "--steps", "2",
            "--strategy", "plain,storeall,periodic,optimal", "--json"], output, error);
        Assert.True(code == 0, error.ToString());
        using var doc = JsonDocument.Parse(output.ToString());
        var rows = doc.RootElement.EnumerateArray().ToArray();
        var losses = rows.Select(r => r.GetProperty("finalLoss").GetDouble()).Distinct().ToArray();
        Assert.True(losses.Length == 1, $"final losses differ across strategies: {string.Join(", ", losses)}");
        foreach (var r in rows.Where(r => r.GetProperty("strategy").GetString() != "plain"))
        {
            long measured = r.GetProperty("measuredPeakBytes").GetInt64(), planned = r.GetProperty("plannedPeakBytes").GetInt64();
            Assert.True(measured >= planned / 2 && measured <= planned * 3 / 2 + (4L << 20),
                $"{r.GetProperty("strategy").GetString()}: measured {measured} bytes against a planned {planned}");
        }
    }

    [Fact]
    public void Train_saves_the_profiled_chain_and_plan_reads_it_back()
    {
        string path = Path.Combine(Path.GetTempPath(), $"remat-profile-{Guid.NewGuid():N}.json");
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int code = Cli.Cli.Run(["train", "--model", "mlp", "--layers", "6", "--width", "64", "--batch", "16", "--steps", "1",
                "--strategy", "storeall", "--json", "--save-profile", path], output, error);
            Assert.True(code == 0, error.ToString());
            var chain = ChainJson.Load(path);
            Assert.Equal(6, chain.Length);
            using var doc = JsonDocument.Parse(output.ToString());
            Assert.True(doc.RootElement[0].GetProperty("plannedPeakBytes").GetInt64() == Simulator.Run(chain, new Remat.Planners.StoreAll().Plan(chain)).PeakBytes,
                "the saved chain is not the one store-all was planned on");
            var plan = new StringWriter();
            Assert.True(Cli.Cli.Run(["plan", "--chain", path, "--strategy", "periodic", "--json"], plan, error) == 0, error.ToString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("unet", "2", 25)]   // 11 nodes a level + 3
    [InlineData("resnet", "3", 19)] // stem 2 + 5 a block + pool and fc
    public void Train_runs_graph_models_by_store_all_periodic_segments_and_CP_SAT_with_identical_losses(string model, string depth, int nodes)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.Cli.Run(["train", "--model", model, "--layers", depth, "--width", "16", "--batch", "4", "--steps", "2", "--time-limit", "3", "--json"], output, error);
        Assert.True(code == 0, error.ToString());
        using var doc = JsonDocument.Parse(output.ToString());
        var rows = doc.RootElement.EnumerateArray().ToArray();
        Assert.Equal(["storeall", "periodic", "optimal"], rows.Select(r => r.GetProperty("strategy").GetString()));
        var losses = rows.Select(r => r.GetProperty("finalLoss").GetDouble()).Distinct().ToArray();
        Assert.True(losses.Length == 1, $"{model}: final losses differ across strategies: {string.Join(", ", losses)}");
        long storeAll = rows[0].GetProperty("plannedPeakBytes").GetInt64();
        Assert.True(rows[2].GetProperty("plannedPeakBytes").GetInt64() <= rows[1].GetProperty("plannedPeakBytes").GetInt64(),
            $"{model}: CP-SAT plans at periodic's peak and may not exceed it");
        Assert.True(rows[1].GetProperty("plannedPeakBytes").GetInt64() < storeAll, $"{model}: periodic segments should save memory");

        var text = new StringWriter();
        Assert.Equal(0, Cli.Cli.Run(["train", "--model", model, "--layers", depth, "--width", "16", "--batch", "4", "--steps", "1", "--strategy", "storeall"], text, error));
        Assert.Contains($"model: {model}, {nodes} stages", text.ToString());
    }

    [Fact]
    public void Train_refuses_chain_strategies_and_the_html_report_for_graph_models()
    {
        var error = new StringWriter();
        Assert.Equal(2, Cli.Cli.Run(["train", "--model", "unet", "--strategy", "revolve"], new StringWriter(), error));
        Assert.Contains("storeall, periodic, optimal", error.ToString());
        error = new StringWriter();
        Assert.Equal(2, Cli.Cli.Run(["train", "--model", "resnet", "--html", "/tmp/x.html"], new StringWriter(), error));
        Assert.Contains("--trace", error.ToString());
    }

    [Fact]
    public void Train_writes_the_planned_and_measured_trace_of_each_scheduled_strategy()
    {
        string file = Path.Combine(Path.GetTempPath(), $"remat-trace-{Environment.ProcessId}.json");
        try
        {
            var error = new StringWriter();
            int code = Cli.Cli.Run(["train", "--layers", "6", "--width", "256", "--batch", "256", "--steps", "2",
                "--strategy", "storeall,revolve,plain", "--trace", file], new StringWriter(), error);
            Assert.True(code == 0, error.ToString());
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            var strategies = doc.RootElement.GetProperty("strategies").EnumerateArray().ToArray();
            Assert.Equal(["storeall", "revolve"], strategies.Select(s => s.GetProperty("strategy").GetString())); // plain has no schedule
            foreach (var s in strategies)
            {
                int ops = s.GetProperty("ops").GetArrayLength();
                foreach (var side in new[] { "planned", "measured" })
                    foreach (var series in new[] { "memoryAfter", "peakDuring", "timeAfter" })
                        Assert.Equal(ops, s.GetProperty(side).GetProperty(series).GetArrayLength());
                Assert.True(s.GetProperty("measured").GetProperty("time").GetDouble() > 0);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Train_with_auto_below_the_smallest_budget_exits_2_naming_it()
    {
        var error = new StringWriter();
        int code = Cli.Cli.Run(["train", "--layers", "4", "--width", "16", "--batch", "8", "--steps", "1", "--strategy", "auto", "--budget", "1KiB"],
            new StringWriter(), error);
        Assert.Equal(Cli.Cli.UsageError, code);
        Assert.Contains("smallest budget that works", error.ToString());
    }
}
