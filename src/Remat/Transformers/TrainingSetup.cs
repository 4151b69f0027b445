namespace Remat.Transformers;

/// <summary>
/// How a transformer is trained on each GPU: the activation layout, pipeline parallelism p (with m interleaved
/// chunks per stage), data parallelism d with a ZeRO stage, and the recomputation: a mode for every layer and,
/// on top of it, a number of fully recomputed layers in each pipeline stage. <see cref="MicroBatches"/> is the
/// number of micro-batches of a step (0: at least p); under 1F1B the first stage holds min(p, that) in flight.
/// </summary>
public sealed record TrainingSetup(
    ActivationSetup Activations,
    int PipelineParallel = 1,
    int InterleavedChunks = 1,
    int DataParallel = 1,
    int ZeroStage = 0,
    Recompute Recompute = Recompute.None,
    int FullyRecomputedLayers = 0,
    int MicroBatches = 0)
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when the setup cannot run the shape.</summary>
    public void Validate(TransformerShape shape)
    {
        shape.Validate(Activations.TensorParallel);
        var a = Activations;
        if (a.Sequence < 1 || a.MicroBatch < 1 || a.Sequence > 10_000_000 || a.MicroBatch > 1_000_000)
            throw new ArgumentException($"the sequence ({a.Sequence}) must be 1 to 10,000,000 and the micro-batch ({a.MicroBatch}) 1 to 1,000,000.");
        if (a.ActivationBytes is not (1 or 2 or 4 or 8))
            throw new ArgumentException($"activation bytes is {a.ActivationBytes}; use 1, 2, 4 or 8.");
        if (PipelineParallel < 1 || shape.Layers % PipelineParallel != 0)
            throw new ArgumentException($"the pipeline-parallel size ({PipelineParallel}) must divide the layers ({shape.Layers}).");
        if (InterleavedChunks < 1 || (shape.Layers / PipelineParallel) % InterleavedChunks != 0)
            throw new ArgumentException($"the interleaved chunks ({InterleavedChunks}) must divide the layers of a pipeline stage ({shape.Layers / PipelineParallel}).");
        if (MicroBatches < 0)
            throw new ArgumentException($"the number of micro-batches is {MicroBatches}; give 1 or more (0 means at least the pipeline-parallel size).");
        if (DataParallel < 1)
            throw new ArgumentException($"the data-parallel size is {DataParallel}; it must be at least 1.");
        if (a.TensorParallel > shape.Heads || PipelineParallel > shape.Layers)
            throw new ArgumentException("tensor parallelism cannot exceed the heads, nor pipeline parallelism the layers.");
        if (ZeroStage is < 0 or > 3)
            throw new ArgumentException($"the ZeRO stage is {ZeroStage}; it is 0, 1, 2 or 3.");
        if (FullyRecomputedLayers < 0 || FullyRecomputedLayers > shape.Layers / PipelineParallel)
            throw new ArgumentException($"fully recomputed layers is {FullyRecomputedLayers}; a pipeline stage has {shape.Layers / PipelineParallel} layers.");
        if (a.SequenceParallel && a.TensorParallel == 1)
            throw new ArgumentException("sequence parallelism splits over the tensor-parallel group: it needs a tensor-parallel size above 1.");
    }
}
