namespace Remat.Transformers;

/// <summary>The memory of one GPU (the first pipeline stage's) training a transformer, term by term.</summary>
public sealed record MemoryEstimate(
    IReadOnlyList<MemoryTerm> LayerTerms,
    double ActivationBytesPerLayer,
    IReadOnlyList<MemoryTerm> Activations,
    double ActivationBytesTotal,
    IReadOnlyList<MemoryTerm> ModelStates,
    double ModelStateBytes,
    double RecomputeOverhead)
{
    /// <summary>Activations plus model states.</summary>
    public double TotalBytes => ActivationBytesTotal + ModelStateBytes;
}

/// <summary>
/// The memory of training a transformer on one GPU: activations (Korthikanti et al. 2022, sections 4.2-4.3)
/// and model states (mixed-precision Adam: 2 bytes of fp16 weights, 2 of fp16 gradients and 12 of fp32
/// master weights, momentum and variance per parameter; ZeRO, Rajbhandari et al. 2020, shards the
/// optimizer states (stage 1), then the gradients (2), then the weights (3) over data parallelism).
/// </summary>
public static class TrainingMemory
{
    /// <summary>The estimate for the first pipeline stage, which holds the most activations under 1F1B.</summary>
    public static MemoryEstimate Estimate(TransformerShape shape, TrainingSetup setup)
    {
        setup.Validate(shape);
        var act = setup.Activations;
        double s = act.Sequence, b = act.MicroBatch, h = shape.Hidden, v = shape.Vocab, t = act.TensorParallel;
        int p = setup.PipelineParallel, perStage = shape.Layers / p, full = setup.FullyRecomputedLayers;
        int inFlight = setup.MicroBatches > 0 ? Math.Min(p, setup.MicroBatches) : p; // 1F1B: the first stage's warm-up
        var layerTerms = ActivationMemory.PerLayer(shape, act, setup.Recompute);
        double perLayer = layerTerms.Sum(x => x.Bytes);
        double fullLayer = ActivationMemory.PerLayerBytes(shape, act, Recompute.Full);
        // 1F1B: the first stage holds p micro-batches of L/p layers (fewer when the step has fewer), L layers' worth; the interleaved schedule
        // with m > 1 chunks per stage multiplies that by 1 + (p-1)/(p*m) (section 4.2.3).
        double interleave = setup.InterleavedChunks > 1 ? 1 + (p - 1.0) / (p * setup.InterleavedChunks) : 1;
        double Replicated(double bytes) => act.SequenceParallel ? bytes / t : bytes;
        var activations = new List<MemoryTerm>
        {
            new($"layers: {inFlight} micro-batches in flight x {perStage - full} layers at {Name(setup.Recompute)}" +
                (interleave > 1 ? $" x {interleave:0.###} (interleaved)" : ""),
                inFlight * (perStage - full) * perLayer * interleave),
        };
        if (full > 0)
            activations.Add(new($"layers: {inFlight} micro-batches in flight x {full} fully recomputed layers", inFlight * full * fullLayer * interleave));
        if (act.Dropout)
            activations.Add(new("embedding dropout masks", inFlight * Replicated(s * b * h)));
        if (p == 1)
        {
            activations.Add(new("final layer norm input", Replicated(act.ActivationBytes * s * b * h)));
            activations.Add(new("output layer input", Replicated(act.ActivationBytes * s * b * h)));
            activations.Add(new("logits (fp32, for the loss)", 4 * s * b * v / t));
        }
        // The first stage holds the embedding, and without pipelining an untied output layer too.
        double parameters = perStage * shape.LayerParameters / t + (p == 1 && !shape.TiedEmbeddings ? 2 : 1) * (double)shape.Vocab * h / t;
        double d = setup.DataParallel;
        int z = setup.ZeroStage;
        var states = new List<MemoryTerm>
        {
            new($"weights (fp16{(z >= 3 ? ", sharded" : "")})", 2 * parameters / (z >= 3 ? d : 1)),
            new($"gradients (fp16{(z >= 2 ? ", sharded" : "")})", 2 * parameters / (z >= 2 ? d : 1)),
            new($"optimizer: fp32 weights, momentum, variance{(z >= 1 ? " (sharded)" : "")}", 12 * parameters / (z >= 1 ? d : 1)),
        };
        return new MemoryEstimate(layerTerms, perLayer, activations, activations.Sum(x => x.Bytes), states, states.Sum(x => x.Bytes),
            ComputeCost.RecomputeOverhead(shape, setup));
    }

    /// <summary>
    /// The recomputation that fits <paramref name="gpuBytes"/> for the least extra cost: every mode, with 0 to L/p fully
    /// recomputed layers on top; null when nothing fits. The cost is <paramref name="cost"/> of a setup (the predicted
    /// time's overhead, <see cref="StepTime"/>), by default the extra FLOPs.
    /// </summary>
    public static (TrainingSetup Setup, MemoryEstimate Estimate)? Recommend(TransformerShape shape, TrainingSetup setup, double gpuBytes,
        Func<TrainingSetup, double>? cost = null)
    {
        int perStage = shape.Layers / Math.Max(1, setup.PipelineParallel);
        var options = new List<TrainingSetup> { setup with { Recompute = Recompute.Full, FullyRecomputedLayers = 0 } };
        foreach (var mode in new[] { Recompute.None, Recompute.Selective })
            for (int n = 0; n <= perStage; n++)
                options.Add(setup with { Recompute = mode, FullyRecomputedLayers = n });
        return options
            .Select(o => (Setup: o, Estimate: Estimate(shape, o)))
            .Where(o => o.Estimate.TotalBytes <= gpuBytes)
            .OrderBy(o => cost?.Invoke(o.Setup) ?? o.Estimate.RecomputeOverhead)
            .ThenBy(o => o.Estimate.TotalBytes)
            .Select(o => ((TrainingSetup, MemoryEstimate)?)o)
            .FirstOrDefault();
    }

    /// <summary>A short name of a recompute mode.</summary>
    public static string Name(Recompute recompute) => recompute switch
    {
        Recompute.None => "no recompute",
        Recompute.Selective => "selective recompute",
        _ => "full recompute",
    };
}
