using System.CommandLine;
using System.Globalization;

namespace Remat.Cli;

/// <summary>Where a command's chain comes from: a chain file, or a uniform chain of --layers stages.</summary>
internal sealed class ChainSource
{
    private const string UniformDefault = "output=32MiB,saved=96MiB,forward=1,backward=2";

    public Option<string?> File { get; } = new("--chain") { Description = "A chain file (JSON, see docs/chain-format.md)." };

    public Option<int?> Layers { get; } = Options.Count("--layers", "The number of stages of a uniform chain.", 1);

    public Option<string> Uniform { get; } = new("--uniform")
    {
        Description = "The stage of a uniform chain: output=SIZE,saved=SIZE,forward=T,backward=T[,ftmp=SIZE,btmp=SIZE].",
        DefaultValueFactory = _ => UniformDefault,
    };

    public IEnumerable<Option> All => [File, Layers, Uniform];

    public Chain Build(ParseResult parse)
    {
        string? file = parse.GetValue(File);
        int? layers = parse.GetValue(Layers);
        if (file is not null && layers is not null)
            throw new UsageException("give either --chain FILE or --layers N, not both.");
        if (file is not null)
        {
            if (parse.GetResult(Uniform) is { Implicit: false })
                throw new UsageException("--uniform describes the stages of --layers; a chain file has its own.");
            return ChainJson.Load(file);
        }
        if (layers is null)
            throw new UsageException("give the chain: --chain FILE, or --layers N for a uniform chain (with --uniform to set its stage).");
        if (layers > 1_000_000)
            throw new UsageException($"--layers {layers}: Remat plans chains of up to 1,000,000 stages.");
        return UniformChain(layers.Value, parse.GetValue(Uniform) ?? UniformDefault);
    }

    private static Chain UniformChain(int layers, string spec)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in (UniformDefault + "," + spec).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2 || kv[0] is not ("output" or "saved" or "forward" or "backward" or "ftmp" or "btmp"))
                throw new UsageException($"--uniform: '{part}' is not one of output=SIZE, saved=SIZE, forward=T, backward=T, ftmp=SIZE, btmp=SIZE.");
            values[kv[0]] = kv[1];
        }
        long Bytes(string key)
        {
            if (!ByteSize.TryParse(values.GetValueOrDefault(key, "0"), out long b, out string error))
                throw new UsageException($"--uniform {key}: {error}");
            return b;
        }
        double Time(string key)
        {
            if (!double.TryParse(values[key], NumberStyles.Float, CultureInfo.InvariantCulture, out double t) || !double.IsFinite(t) || t < 0)
                throw new UsageException($"--uniform {key}: '{values[key]}' is not a time; give a finite number, 0 or more.");
            return t;
        }
        return Chain.Uniform(layers, Bytes("output"), Bytes("saved"), Time("forward"), Time("backward"), Bytes("ftmp"), Bytes("btmp"));
    }
}
