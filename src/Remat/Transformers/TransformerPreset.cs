namespace Remat.Transformers;

/// <summary>A named model shape with the settings it is usually trained with.</summary>
/// <param name="Name">The name the CLI takes.</param>
/// <param name="Shape">The model.</param>
/// <param name="Sequence">Its training sequence length.</param>
/// <param name="TensorParallel">The tensor-parallel size of its reference setup.</param>
/// <param name="PipelineParallel">The pipeline-parallel size of its reference setup.</param>
/// <param name="Dropout">Whether it trains with dropout.</param>
/// <param name="Source">Where the shape comes from.</param>
public sealed record TransformerPreset(string Name, TransformerShape Shape, int Sequence, int TensorParallel, int PipelineParallel, bool Dropout, string Source)
{
    /// <summary>
    /// The four models of Korthikanti et al. 2022 (table 3: t = 8, and p = 1, 8, 35, 64) and open models
    /// whose shapes are published in their model cards or papers.
    /// </summary>
    public static IReadOnlyList<TransformerPreset> All { get; } =
    [
        new("gpt-22b", new(48, 6144, 64, 51200), 2048, 8, 1, true, "Korthikanti et al. 2022, table 3"),
        new("gpt-175b", new(96, 12288, 96, 51200), 2048, 8, 8, true, "Korthikanti et al. 2022, table 3"),
        new("gpt-530b", new(105, 20480, 128, 51200), 2048, 8, 35, true, "Korthikanti et al. 2022, table 3"),
        new("gpt-1t", new(128, 25600, 160, 51200), 2048, 8, 64, true, "Korthikanti et al. 2022, table 3"),
        new("llama-2-7b", new(32, 4096, 32, 32000, Ffn: 11008, GatedMlp: true, Biases: false, TiedEmbeddings: false), 4096, 1, 1, false, "Touvron et al. 2023 (Llama 2)"),
        new("llama-2-13b", new(40, 5120, 40, 32000, Ffn: 13824, GatedMlp: true, Biases: false, TiedEmbeddings: false), 4096, 1, 1, false, "Touvron et al. 2023 (Llama 2)"),
        new("llama-2-70b", new(80, 8192, 64, 32000, Ffn: 28672, KvHeads: 8, GatedMlp: true, Biases: false, TiedEmbeddings: false), 4096, 8, 1, false, "Touvron et al. 2023 (Llama 2)"),
        new("llama-3-8b", new(32, 4096, 32, 128256, Ffn: 14336, KvHeads: 8, GatedMlp: true, Biases: false, TiedEmbeddings: false), 8192, 1, 1, false, "Meta Llama 3 model card"),
        new("mistral-7b", new(32, 4096, 32, 32000, Ffn: 14336, KvHeads: 8, GatedMlp: true, Biases: false, TiedEmbeddings: false), 4096, 1, 1, false, "Jiang et al. 2023 (Mistral 7B)"),
        new("gpt2-xl", new(48, 1600, 25, 50257), 1024, 1, 1, true, "Radford et al. 2019 (GPT-2)"),
    ];

    /// <summary>The preset called <paramref name="name"/>, or null.</summary>
    public static TransformerPreset? Find(string name) => All.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
}
