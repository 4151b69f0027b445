using System.CommandLine;
using System.Text.Json;
using Remat.Transformers;

namespace Remat.Cli;

/// <summary>
/// Where <c>remat memory</c>'s model comes from: a preset, a shape file, or the shape's options, each of which overrides
/// the preset's or the file's value.
/// </summary>
internal sealed class TransformerSource
{
    public Option<string?> Preset { get; } = new("--preset") { Description = "A named model: " + string.Join(", ", TransformerPreset.All.Select(p => p.Name)) + "." };

    public Option<string?> File { get; } = new("--shape") { Description = "A JSON file with layers, hidden, heads, vocab and optionally ffn, kvHeads, gatedMlp, biases, tiedEmbeddings." };

    public Option<int?> Layers { get; } = Options.Count("--layers", "L, the number of layers.", 1);

    public Option<int?> Hidden { get; } = Options.Count("--hidden", "h, the hidden size.", 1);

    public Option<int?> Heads { get; } = Options.Count("--heads", "a, the attention heads.", 1);

    public Option<int?> Ffn { get; } = Options.Count("--ffn", "f, the MLP's inner size (default 4h).", 1);

    public Option<int?> Vocab { get; } = Options.Count("--vocab", "v, the vocabulary (default 51200).", 1);

    public Option<int?> KvHeads { get; } = Options.Count("--kv-heads", "Key/value heads (grouped-query attention; default: heads).", 1);

    public Option<bool> Gated { get; } = new("--gated") { Description = "A SwiGLU MLP (gate, up and down projections)." };

    public IEnumerable<Option> All => [Preset, File, Layers, Hidden, Heads, Ffn, Vocab, KvHeads, Gated];

    /// <summary>The preset named, if any, and the shape: the preset's or the file's, with the options given in place of its values.</summary>
    public (TransformerPreset? Preset, TransformerShape Shape) Build(ParseResult parse)
    {
        var named = parse.GetValue(Preset) is { } n
            ? TransformerPreset.Find(n) ?? throw new UsageException($"--preset: unknown model '{n}'; the presets are {string.Join(", ", TransformerPreset.All.Select(p => p.Name))}.")
            : null;
        var baseShape = named?.Shape ?? (parse.GetValue(File) is { } file ? ShapeFile(file) : null);
        return (named, new TransformerShape(
            parse.GetValue(Layers) ?? baseShape?.Layers ?? throw Missing("--layers"),
            parse.GetValue(Hidden) ?? baseShape?.Hidden ?? throw Missing("--hidden"),
            parse.GetValue(Heads) ?? baseShape?.Heads ?? throw Missing("--heads"),
            parse.GetValue(Vocab) ?? baseShape?.Vocab ?? 51200,
            parse.GetValue(Ffn) ?? baseShape?.Ffn,
            parse.GetValue(KvHeads) ?? baseShape?.KvHeads,
            parse.GetValue(Gated) || (baseShape?.GatedMlp ?? false),
            baseShape?.Biases ?? true,
            baseShape?.TiedEmbeddings ?? true));
    }

    private static UsageException Missing(string option) =>
        new($"give a model: --preset NAME, --shape FILE, or {option} with --layers, --hidden and --heads.");

    private static TransformerShape ShapeFile(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(System.IO.File.ReadAllText(path));
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object)
                throw new UsageException($"{path}: the shape must be a JSON object with layers, hidden, heads and vocab.");
            int Int(string name) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
                : throw new UsageException($"{path}: '{name}' must be a whole number.");
            int? OptionalInt(string name) => r.TryGetProperty(name, out _) ? Int(name) : null;
            bool Flag(string name, bool fallback) => r.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.True : fallback;
            return new TransformerShape(Int("layers"), Int("hidden"), Int("heads"), OptionalInt("vocab") ?? 51200, OptionalInt("ffn"),
                OptionalInt("kvHeads"), Flag("gatedMlp", false), Flag("biases", true), Flag("tiedEmbeddings", true));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"cannot read the shape file '{path}': {e.Message}");
        }
    }
}
