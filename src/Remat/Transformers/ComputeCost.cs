namespace Remat.Transformers;

/// <summary>
/// Training compute of a transformer, Korthikanti et al. 2022, section 6: model FLOPs per iteration
/// 72*B*L*s*h^2*(1 + s/(6h) + v/(12hL)) for a global batch of B sequences.
/// </summary>
public static class ComputeCost
{
    /// <summary>Model FLOPs of one iteration: forward and backward, no recomputation.</summary>
    public static double ModelFlops(TransformerShape shape, int sequence, int globalBatch)
    {
        double B = globalBatch, L = shape.Layers, s = sequence, h = shape.Hidden, v = shape.Vocab;
        return 72 * B * L * s * h * h * (1 + s / (6 * h) + v / (12 * h * L));
    }

    /// <summary>
    /// Extra FLOPs of the recomputation as a share of the model FLOPs. A fully recomputed layer runs its forward
    /// again: 24*B*s*h^2*(1 + s/(6h)). Selective recomputation runs only the attention's two batched matrix
    /// products again (QK^T and the weighted values): 4*B*s^2*h per layer; with flash attention that is part of
    /// every backward already, so selective costs nothing extra.
    /// </summary>
    public static double RecomputeOverhead(TransformerShape shape, TrainingSetup setup)
    {
        double s = setup.Activations.Sequence, h = shape.Hidden, L = shape.Layers;
        int fullLayers = setup.Recompute == Recompute.Full
            ? shape.Layers
            : setup.FullyRecomputedLayers * setup.PipelineParallel;
        double perSequenceFull = 24 * s * h * h * (1 + s / (6 * h));
        double perSequenceSelective = 4 * s * s * h;
        double extra = fullLayers * perSequenceFull +
                       (setup.Recompute == Recompute.Selective && !setup.Activations.FlashAttention ? (L - fullLayers) * perSequenceSelective : 0);
        return extra / ModelFlops(shape, setup.Activations.Sequence, 1);
    }
}
