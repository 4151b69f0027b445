namespace Remat.Transformers;

/// <summary>What a layer's activations are recomputed from.</summary>
public enum Recompute
{
    /// <summary>Everything is stored.</summary>
    None,

    /// <summary>The core attention (softmax, its dropout, the weighted values) is recomputed: Korthikanti et al. 2022, section 5.</summary>
    Selective,

    /// <summary>Only the layer's input is stored; the whole layer is recomputed.</summary>
    Full,
}

/// <summary>How the activations are laid out: sequence s, micro-batch b, tensor parallel t, and the kernels used.</summary>
/// <param name="Sequence">s.</param>
/// <param name="MicroBatch">b.</param>
/// <param name="TensorParallel">t.</param>
/// <param name="SequenceParallel">Sequence parallelism: the layer norms and dropouts are split over t as well.</param>
/// <param name="FlashAttention">A fused attention that stores no s^2 tensor, only the output and fp32 softmax statistics.</param>
/// <param name="Dropout">Dropout on (1-byte masks) or off.</param>
/// <param name="ActivationBytes">Bytes per activation element: 2 for fp16/bf16, 4 for fp32.</param>
public sealed record ActivationSetup(int Sequence, int MicroBatch, int TensorParallel = 1, bool SequenceParallel = false,
    bool FlashAttention = false, bool Dropout = true, int ActivationBytes = 2);

/// <summary>One named tensor (or group) of a layer's stored activations, in bytes per GPU.</summary>
public sealed record MemoryTerm(string Name, double Bytes);

/// <summary>
/// Activation memory of one transformer layer, tensor by tensor, after Korthikanti et al. 2022 ("Reducing
/// Activation Recomputation in Large Transformer Models", section 4.1): with 16-bit activations and dropout,
/// s*b*h*(34 + 5*a*s/h) bytes, of which attention 11sbh + 5as^2b, MLP 19sbh and the two layer norms 4sbh.
/// Tensors in the tensor-parallel regions divide by t; the others (layer-norm outputs, dropout masks, layer-norm
/// inputs) divide by t only under sequence parallelism (section 4.2.2).
/// </summary>
public static class ActivationMemory
{
    /// <summary>The stored tensors of one layer with their sizes; their sum is the layer's activation memory.</summary>
    public static IReadOnlyList<MemoryTerm> PerLayer(TransformerShape shape, ActivationSetup setup, Recompute recompute)
    {
        shape.Validate(setup.TensorParallel);
        double s = setup.Sequence, b = setup.MicroBatch, h = shape.Hidden, a = shape.Heads, f = shape.FfnSize;
        double t = setup.TensorParallel, e = setup.ActivationBytes, kv = (double)shape.KeyValueHeads / shape.Heads;
        double sbh = s * b * h;
        double Parallel(double bytes) => bytes / t;
        double Replicated(double bytes) => setup.SequenceParallel ? bytes / t : bytes;
        if (recompute == Recompute.Full)
            return [new MemoryTerm("layer input (the checkpoint)", 2 * sbh)]; // the paper's 2sbh
        var terms = new List<MemoryTerm>
        {
            new("attention: layer-norm output (QKV input)", Replicated(e * sbh)),
            new("attention: Q", Parallel(e * sbh)),
            new("attention: K", Parallel(e * sbh * kv)),
            new("attention: V", Parallel(e * sbh * kv)),
        };
        if (setup.FlashAttention)
            terms.Add(new("attention: softmax statistics (fp32)", Parallel(4 * a * s * b)));
        else if (recompute != Recompute.Selective)
        {
            terms.Add(new("attention: softmax output", Parallel(e * a * s * s * b)));
            if (setup.Dropout)
            {
                terms.Add(new("attention: softmax dropout mask", Parallel(a * s * s * b)));
                terms.Add(new("attention: dropout output (input to x V)", Parallel(e * a * s * s * b)));
            }
        }
        terms.Add(new("attention: projection input", Parallel(e * sbh)));
        if (setup.Dropout)
            terms.Add(new("attention: output dropout mask", Replicated(sbh)));
        terms.Add(new("mlp: layer-norm output (first linear input)", Replicated(e * sbh)));
        if (shape.GatedMlp)
        {
            terms.Add(new("mlp: gate output (SiLU input)", Parallel(e * s * b * f)));
            terms.Add(new("mlp: SiLU output", Parallel(e * s * b * f)));
            terms.Add(new("mlp: up output", Parallel(e * s * b * f)));
            terms.Add(new("mlp: product (down input)", Parallel(e * s * b * f)));
        }
        else
        {
            terms.Add(new("mlp: first linear output (GeLU input)", Parallel(e * s * b * f)));
            terms.Add(new("mlp: GeLU output (second linear input)", Parallel(e * s * b * f)));
        }
        if (setup.Dropout)
            terms.Add(new("mlp: dropout mask", Replicated(sbh)));
        terms.Add(new("layer norms: inputs (2)", Replicated(2 * e * sbh)));
        return terms;
    }

    /// <summary>The activation bytes of one layer per GPU: the sum of <see cref="PerLayer"/>.</summary>
    public static double PerLayerBytes(TransformerShape shape, ActivationSetup setup, Recompute recompute) =>
        PerLayer(shape, setup, recompute).Sum(term => term.Bytes);
}
