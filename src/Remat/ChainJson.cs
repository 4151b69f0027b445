using System.Text;
using System.Text.Json;

namespace Remat;

/// <summary>
/// Reads and writes chain files (JSON, UTF-8; docs/chain-format.md). A stage may name its inputs, which makes the file
/// a graph (<see cref="Graph"/>); without them, stage k reads x_{k-1}, so every chain file is also a graph file.
/// </summary>
public static class ChainJson
{
    private static readonly string[] TopFields = ["name", "input", "stages"];
    private static readonly string[] InputFields = ["bytes"];
    private static readonly string[] StageFields =
        ["name", "inputs", "forwardTime", "backwardTime", "outputBytes", "savedBytes", "forwardTempBytes", "backwardTempBytes", "partial"];

    private static readonly string[] PartialFields = ["savedBytes", "backwardTime", "backwardTempBytes", "forwardTempBytes"];

    /// <summary>Loads a chain file; a missing file, a bad chain or a file whose stages branch throws <see cref="ChainException"/>.</summary>
    public static Chain Load(string path) => Parse(Read(path), path);

    /// <summary>Loads a graph file (or a chain file, as a graph); errors throw <see cref="ChainException"/>.</summary>
    public static Graph LoadGraph(string path) => ParseGraph(Read(path), path);

    /// <summary>Parses chain JSON; <paramref name="source"/> names it in error messages.</summary>
    public static Chain Parse(string json, string source = "chain")
    {
        var graph = ParseGraph(json, source);
        try
        {
            return graph.ToChain();
        }
        catch (ChainException e)
        {
            throw new ChainException($"{source}: {e.Message}");
        }
    }

    /// <summary>Parses graph JSON: chain JSON whose stages may list their inputs.</summary>
    public static Graph ParseGraph(string json, string source = "graph")
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new ChainException($"{source} is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {FirstSentence(e.Message)}");
        }
        using (doc)
        {
            var root = doc.RootElement;
            Expect(root, JsonValueKind.Object, source, "the top level");
            CheckFields(root, TopFields, source, "the top level");
            string? name = OptionalString(root, "name", source, "the top level");
            if (!root.TryGetProperty("input", out var input))
                throw new ChainException($"{source}: the field 'input' is missing; give the input size as \"input\": {{ \"bytes\": N }}.");
            Expect(input, JsonValueKind.Object, source, "input");
            CheckFields(input, InputFields, source, "input");
            long inputBytes = RequiredBytes(input, "bytes", source, "input");
            if (!root.TryGetProperty("stages", out var stages))
                throw new ChainException($"{source}: the field 'stages' is missing; give the stages as an array.");
            Expect(stages, JsonValueKind.Array, source, "stages");
            var list = new List<Stage>();
            var inputs = new List<IReadOnlyList<int>>();
            int k = 0;
            foreach (var st in stages.EnumerateArray())
            {
                k++;
                string where = $"stage {k}";
                Expect(st, JsonValueKind.Object, source, where);
                CheckFields(st, StageFields, source, where);
                inputs.Add(Inputs(st, k, list, source, where));
                list.Add(new Stage(
                    OptionalString(st, "name", source, where) ?? $"stage{k}",
                    RequiredTime(st, "forwardTime", source, where),
                    RequiredTime(st, "backwardTime", source, where),
                    RequiredBytes(st, "outputBytes", source, where),
                    RequiredBytes(st, "savedBytes", source, where),
                    OptionalBytes(st, "forwardTempBytes", source, where),
                    OptionalBytes(st, "backwardTempBytes", source, where),
                    Partial(st, source, where)));
            }
            try
            {
                return new Graph(inputBytes, list, inputs, name);
            }
            catch (ChainException e)
            {
                throw new ChainException($"{source}: {e.Message}");
            }
        }
    }

    /// <summary>A stage's optional partial record: <c>{"savedBytes", "backwardTime", "backwardTempBytes"}</c>.</summary>
    private static PartialRecord? Partial(JsonElement stage, string source, string where)
    {
        if (!stage.TryGetProperty("partial", out var p) || p.ValueKind == JsonValueKind.Null)
            return null;
        where += ": partial";
        Expect(p, JsonValueKind.Object, source, where);
        CheckFields(p, PartialFields, source, where);
        return new PartialRecord(RequiredBytes(p, "savedBytes", source, where), RequiredTime(p, "backwardTime", source, where),
            OptionalBytes(p, "backwardTempBytes", source, where), OptionalBytes(p, "forwardTempBytes", source, where));
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ChainException($"cannot read the file '{path}': {e.Message}");
        }
    }

    /// <summary>A stage's inputs: indices (0 is the input) or names of earlier stages ("input" is x0); x_{k-1} when absent.</summary>
    private static int[] Inputs(JsonElement stage, int k, List<Stage> earlier, string source, string where)
    {
        if (!stage.TryGetProperty("inputs", out var v))
            return [k - 1];
        Expect(v, JsonValueKind.Array, source, $"{where}: inputs");
        return [.. v.EnumerateArray().Select(e => e.ValueKind switch
        {
            JsonValueKind.Number when e.TryGetInt32(out int i) => i,
            JsonValueKind.String when e.GetString() == "input" => 0,
            JsonValueKind.String => earlier.FindIndex(s => s.Name == e.GetString()) is var i and >= 0
                ? i + 1
                : throw new ChainException($"{source}: {where}: input '{e.GetString()}' names no earlier stage; use an earlier stage's name, its number, or \"input\"."),
            _ => throw new ChainException($"{source}: {where}: an input must be a stage number or name, not {Shorten(e.GetRawText())}."),
        })];
    }

    /// <summary>Writes a chain as indented chain JSON.</summary>
    public static string Serialize(Chain chain) => Serialize(Graph.FromChain(chain));

    /// <summary>Writes a graph as indented JSON; a chain's graph is written as a chain file (no inputs).</summary>
    public static string Serialize(Graph graph)
    {
        bool chain = graph.IsChain;
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            if (graph.Name is not null)
                w.WriteString("name", graph.Name);
            w.WriteStartObject("input");
            w.WriteNumber("bytes", graph.InputBytes);
            w.WriteEndObject();
            w.WriteStartArray("stages");
            for (int v = 1; v <= graph.Count; v++)
            {
                var s = graph[v];
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                if (!chain)
                {
                    w.WriteStartArray("inputs");
                    foreach (int u in graph.Inputs(v))
                        w.WriteNumberValue(u);
                    w.WriteEndArray();
                }
                w.WriteNumber("forwardTime", s.ForwardTime);
                w.WriteNumber("backwardTime", s.BackwardTime);
                w.WriteNumber("outputBytes", s.OutputBytes);
                w.WriteNumber("savedBytes", s.SavedBytes);
                w.WriteNumber("forwardTempBytes", s.ForwardTempBytes);
                w.WriteNumber("backwardTempBytes", s.BackwardTempBytes);
                if (s.Partial is { } partial)
                {
                    w.WriteStartObject("partial");
                    w.WriteNumber("savedBytes", partial.SavedBytes);
                    w.WriteNumber("backwardTime", partial.BackwardTime);
                    w.WriteNumber("backwardTempBytes", partial.BackwardTempBytes);
                    w.WriteNumber("forwardTempBytes", partial.ForwardTempBytes);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Expect(JsonElement e, JsonValueKind kind, string source, string where)
    {
        if (e.ValueKind != kind)
            throw new ChainException($"{source}: {where} must be a JSON {kind.ToString().ToLowerInvariant()}, not {e.ValueKind.ToString().ToLowerInvariant()}.");
    }

    private static void CheckFields(JsonElement obj, string[] known, string source, string where)
    {
        foreach (var p in obj.EnumerateObject())
        {
            if (known.Contains(p.Name))
                continue;
            string? near = known.MinBy(k => EditDistance(k.ToLowerInvariant(), p.Name.ToLowerInvariant()));
            string hint = near is not null && EditDistance(near.ToLowerInvariant(), p.Name.ToLowerInvariant()) <= 3
                ? $"did you mean '{near}'?"
                : $"the fields are {string.Join(", ", known)}.";
            throw new ChainException($"{source}: {where} has an unknown field '{p.Name}'; {hint}");
        }
    }

    private static string? OptionalString(JsonElement obj, string field, string source, string where)
    {
        if (!obj.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
            return null;
        if (v.ValueKind != JsonValueKind.String)
            throw new ChainException($"{source}: {where}: {field} must be a string.");
        return v.GetString();
    }

    private static double RequiredTime(JsonElement obj, string field, string source, string where)
    {
        if (!obj.TryGetProperty(field, out var v))
            throw new ChainException($"{source}: {where}: the field '{field}' is missing; give a time, 0 or more.");
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw new ChainException($"{source}: {where}: {field} must be a finite number, not {Shorten(v.GetRawText())}.");
        if (d < 0)
            throw new ChainException($"{source}: {where}: {field} is {d}; a time must be 0 or more.");
        return d;
    }

    private static long RequiredBytes(JsonElement obj, string field, string source, string where)
    {
        if (!obj.TryGetProperty(field, out var v))
            throw new ChainException($"{source}: {where}: the field '{field}' is missing; give a size in whole bytes.");
        return Bytes(v, field, source, where);
    }

    private static long OptionalBytes(JsonElement obj, string field, string source, string where) =>
        obj.TryGetProperty(field, out var v) ? Bytes(v, field, source, where) : 0;

    private static long Bytes(JsonElement v, string field, string source, string where)
    {
        if (v.ValueKind != JsonValueKind.Number)
            throw new ChainException($"{source}: {where}: {field} must be a number of bytes, not {Shorten(v.GetRawText())}.");
        if (!v.TryGetInt64(out long n))
            throw new ChainException($"{source}: {where}: {field} is {Shorten(v.GetRawText())}; a size must be a whole number of bytes below 2^63.");
        if (n < 0)
            throw new ChainException($"{source}: {where}: {field} is {n}; a size must be 0 or more bytes.");
        return n;
    }

    private static string Shorten(string raw) => raw.Length <= 40 ? raw : raw[..37] + "...";

    private static string FirstSentence(string message)
    {
        int i = message.IndexOf(". ", StringComparison.Ordinal);
        return i < 0 ? message : message[..(i + 1)];
    }

    private static int EditDistance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
