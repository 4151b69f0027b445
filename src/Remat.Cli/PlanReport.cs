using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Remat.Cli;

/// <summary>A plan as the user reads it, and as the plan JSON of the chain-model spec.</summary>
internal static class PlanReport
{
    /// <summary>The summary of a plan for <paramref name="stages"/> stages whose store-all time is <paramref name="baseline"/>; <paramref name="solver"/> is a line on how the plan was proven.</summary>
    public static string Text(int stages, double baseline, Trace trace, long? budget, bool ops, string? solver = null)
    {
        var sb = new StringBuilder();
        void Line(string label, string value) => sb.AppendLine($"{label,-12}{value}");
        Line("strategy", trace.Schedule.Strategy);
        Line("stages", stages.ToString(CultureInfo.InvariantCulture));
        if (solver is not null)
            Line("solver", solver);
        if (budget is { } b)
            Line("budget", $"{ByteSize.Format(b)} ({b} bytes)");
        Line("peak", $"{ByteSize.Format(trace.PeakBytes)} ({trace.PeakBytes} bytes)");
        Line("time", $"{Num(trace.Time)} (store-all {Num(baseline)}, overhead {Overhead(trace.Time, baseline)})");
        Line("forwards", $"{trace.ForwardCount} ({stages} first runs + {trace.ForwardCount - stages} recomputations)");
        Line("recomputed", Recomputed(stages, trace));
        if (trace.Schedule.PartialRecords.Count > 0)
            Line("partial", $"stages {string.Join(", ", trace.Schedule.PartialRecords)} recorded without their declared part");
        if (ops)
            Line("ops", trace.Schedule.ToString());
        return sb.ToString();
    }

    public static string Overhead(double time, double baseline) => baseline == 0 ? "0%" : Percent(time / baseline - 1);

    /// <summary>A signed percentage: 0.146 is "+14.6%".</summary>
    public static string Percent(double fraction) => (fraction * 100).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture) + "%";

    public static string Num(double x) => x.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>"none", or runs of stages with the same count: "stages 1-3 once, stage 7 twice".</summary>
    private static string Recomputed(int stages, Trace trace)
    {
        var runs = new List<string>();
        for (int k = 1; k <= stages;)
        {
            int count = trace.Recomputes(k), end = k;
            while (end < stages && trace.Recomputes(end + 1) == count)
                end++;
            if (count > 0)
                runs.Add((end == k ? $"stage {k}" : $"stages {k}-{end}") + " " + (count switch { 1 => "once", 2 => "twice", _ => $"{count} times" }));
            k = end + 1;
        }
        return runs.Count == 0 ? "none" : string.Join(", ", runs);
    }

    /// <summary>
    /// The plan JSON of the spec; <c>budgetBytes</c> is null where the strategy takes no budget. <paramref name="extra"/>
    /// writes further fields (a graph plan's solver status).
    /// </summary>
    public static void Json(Utf8JsonWriter w, int stages, double baseline, Trace trace, long? budget, Action<Utf8JsonWriter>? extra = null)
    {
        w.WriteStartObject();
        w.WriteString("strategy", trace.Schedule.Strategy);
        w.WriteNumber("stages", stages);
        extra?.Invoke(w);
        if (budget is { } b) w.WriteNumber("budgetBytes", b); else w.WriteNull("budgetBytes");
        w.WriteNumber("peakBytes", trace.PeakBytes);
        w.WriteNumber("time", trace.Time);
        w.WriteNumber("baselineTime", baseline);
        w.WriteNumber("overhead", baseline == 0 ? 0 : trace.Time / baseline - 1);
        w.WriteNumber("forwardCount", trace.ForwardCount);
        w.WriteStartArray("recomputes");
        for (int k = 1; k <= stages; k++)
            w.WriteNumberValue(trace.Recomputes(k));
        w.WriteEndArray();
        w.WriteStartArray("partialRecords");
        foreach (int k in trace.Schedule.PartialRecords)
            w.WriteNumberValue(k);
        w.WriteEndArray();
        w.WriteStartArray("ops");
        foreach (var op in trace.Schedule.Ops)
        {
            w.WriteStartObject();
            w.WriteString("op", op.Kind.ToString());
            if (op.Kind != OpKind.Loss)
                w.WriteNumber("stage", op.Stage);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static string Json(Action<Utf8JsonWriter> write)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
            write(w);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
