using System.Text;
using System.Text.Json;

namespace Remat;

/// <summary>Reads and writes the chain file of the chain model (JSON, UTF-8).</summary>
public static class ChainJson
{
    private static readonly string[] TopFields = ["name", "input", "stages"];
    private static readonly string[] InputFields = ["bytes"];
    private static readonly string[] StageFields =
        ["name", "forwardTime", "backwardTime", "outputBytes", "savedBytes", "forwardTempBytes", "backwardTempBytes"];

    /// <summary>Loads a chain file; a missing file or a bad chain throws <see cref="ChainException"/>.</summary>
    public static Chain Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ChainException($"cannot read the chain file '{path}': {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Parses chain JSON; <paramref name="source"/> names it in error messages.</summary>
    public static Chain Parse(string json, string source = "chain")
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
            int k = 0;
            foreach (var st in stages.EnumerateArray())
            {
                k++;
                string where = $"stage {k}";
                Expect(st, JsonValueKind.Object, source, where);
                CheckFields(st, StageFields, source, where);
                list.Add(new Stage(
                    OptionalString(st, "name", source, where) ?? $"stage{k}",
                    RequiredTime(st, "forwardTime", source, where),
                    RequiredTime(st, "backwardTime", source, where),
                    RequiredBytes(st, "outputBytes", source, where),
                    RequiredBytes(st, "savedBytes", source, where),
                    OptionalBytes(st, "forwardTempBytes", source, where),
                    OptionalBytes(st, "backwardTempBytes", source, where)));
            }
            try
            {
                return new Chain(inputBytes, list, name);
            }
            catch (ChainException e)
            {
                throw new ChainException($"{source}: {e.Message}");
            }
        }
    }

    /// <summary>Writes a chain as indented chain JSON.</summary>
    public static string Serialize(Chain chain)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            if (chain.Name is not null)
                w.WriteString("name", chain.Name);
            w.WriteStartObject("input");
            w.WriteNumber("bytes", chain.InputBytes);
            w.WriteEndObject();
            w.WriteStartArray("stages");
            foreach (var s in chain.Stages)
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteNumber("forwardTime", s.ForwardTime);
                w.WriteNumber("backwardTime", s.BackwardTime);
                w.WriteNumber("outputBytes", s.OutputBytes);
                w.WriteNumber("savedBytes", s.SavedBytes);
                w.WriteNumber("forwardTempBytes", s.ForwardTempBytes);
                w.WriteNumber("backwardTempBytes", s.BackwardTempBytes);
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
