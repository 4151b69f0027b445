namespace Remat.Transformers;

/// <summary>
/// The shape of a decoder-only transformer: L layers of hidden size h with a attention heads, vocabulary v.
/// <paramref name="Ffn"/> defaults to 4h; <paramref name="KvHeads"/> below <paramref name="Heads"/> is grouped-query
/// attention; <paramref name="GatedMlp"/> is a SwiGLU MLP (gate, up, down projections); <paramref name="Biases"/> says
/// whether the linear layers have biases (GPT) or not (Llama); <paramref name="TiedEmbeddings"/> whether the output
/// layer shares the token embedding's weights (GPT) or has its own (Llama).
/// </summary>
public sealed record TransformerShape(int Layers, int Hidden, int Heads, int Vocab, int? Ffn = null, int? KvHeads = null,
    bool GatedMlp = false, bool Biases = true, bool TiedEmbeddings = true)
{
    /// <summary>
    /// Parameters of one layer: the Q, K, V and output projections, the MLP, two layer norms (scale and shift).
    /// </summary>
    public long LayerParameters
    {
        get
        {
            long h = Hidden, f = FfnSize, kv = (long)Hidden * KeyValueHeads / Heads;
            long attention = h * h + 2 * h * kv + h * h + (Biases ? h + 2 * kv + h : 0);
            long mlp = GatedMlp ? 3 * h * f + (Biases ? 2 * f + h : 0) : 2 * h * f + (Biases ? f + h : 0);
            return attention + mlp + 4 * h;
        }
    }

    /// <summary>All parameters: the layers, the token embedding, the output layer when it is not tied, the final layer norm.</summary>
    public long Parameters => Layers * LayerParameters + (TiedEmbeddings ? 1 : 2) * (long)Vocab * Hidden + 2L * Hidden;

    /// <summary>f, the MLP's inner size.</summary>
    public int FfnSize => Ffn ?? 4 * Hidden;

    /// <summary>g, the number of key/value heads.</summary>
    public int KeyValueHeads => KvHeads ?? Heads;

    /// <summary>Throws <see cref="ArgumentException"/> naming the field when the shape cannot exist.</summary>
    public void Validate(int tensorParallel = 1)
    {
        Within(Layers, "layers", 100_000);
        Within(Hidden, "hidden", 1 << 20);
        Within(Heads, "heads", 1 << 20);
        Within(Vocab, "vocab", 100_000_000);
        Within(FfnSize, "ffn", 1 << 24);
        Within(KeyValueHeads, "kv-heads", 1 << 20);
        if (Hidden % Heads != 0)
            throw new ArgumentException($"heads ({Heads}) must divide hidden ({Hidden}); {Hidden} / {Heads} is not a whole head size.");
        if (Heads % KeyValueHeads != 0)
            throw new ArgumentException($"kv-heads ({KeyValueHeads}) must divide heads ({Heads}).");
        if (tensorParallel < 1 || Heads % tensorParallel != 0)
            throw new ArgumentException($"the tensor-parallel size ({tensorParallel}) must divide heads ({Heads}).");
    }

    private static void Within(int value, string field, int max)
    {
        if (value < 1)
            throw new ArgumentException($"{field} is {value}; it must be at least 1.");
        if (value > max)
            throw new ArgumentException($"{field} is {value}; Remat models up to {max}.");
    }
}
