namespace Remat.Transformers;

/// <summary>The attention kernels a layer runs, which decide what its attention core costs in time.</summary>
public enum AttentionKernels
{
    /// <summary>Separate kernels for the scores, the scale and mask, the softmax, the dropout and the weighted values.</summary>
    Unfused,

    /// <summary>Scale, mask and softmax in one kernel (Megatron's fused softmax); the rest as unfused.</summary>
    FusedSoftmax,

    /// <summary>One kernel for the whole core, with no s^2 tensor in memory (FlashAttention); its backward recomputes the scores.</summary>
    Flash,
}

/// <summary>
/// One kernel of a layer's forward, per GPU: its FLOPs, the bytes it reads and writes, how much more its backward
/// costs, and whether it belongs to the attention core that selective recompute runs again.
/// </summary>
public sealed record LayerOp(string Name, double Flops, double Bytes, double BackwardFactor, bool AttentionCore);

/// <summary>The time of one micro-batch through the layers of the first pipeline stage, on one GPU.</summary>
/// <param name="Ops">The layer's kernels.</param>
/// <param name="Kernels">The attention kernels assumed.</param>
/// <param name="ForwardSeconds">One layer's forward.</param>
/// <param name="BackwardSeconds">One layer's backward.</param>
/// <param name="RecomputeSeconds">The recomputation of all the stage's layers.</param>
/// <param name="StepSeconds">The stage's layers, forward, backward and recomputation.</param>
public sealed record TimeEstimate(IReadOnlyList<LayerOp> Ops, AttentionKernels Kernels, double ForwardSeconds, double BackwardSeconds,
    double RecomputeSeconds, double StepSeconds)
{
    /// <summary>The recomputation as a share of the time without it.</summary>
    public double RecomputeOverhead => RecomputeSeconds / (StepSeconds - RecomputeSeconds);
}

/// <summary>
/// The time of a transformer layer by the roofline model: every kernel takes the larger of its FLOPs over the GPU's
/// matrix throughput and its bytes over the memory bandwidth (<see cref="Accelerator.Seconds"/>). FLOPs count only
/// matrix products (2mnk, Korthikanti et al. 2022, section 6); bytes are the tensors a kernel reads and writes (weights
/// included). A matrix product's backward is two products (factor 2); an element-wise kernel's backward reads the
/// saved tensor and the incoming gradient and writes one gradient (1.5); FlashAttention's backward recomputes the
/// scores (2.5, Dao 2023). So recompute costs what the recomputed kernels cost, which for the attention core is memory
/// traffic of s^2 tensors, not FLOPs.
/// </summary>
public static class StepTime
{
    /// <summary>The kernels of one layer's forward, per GPU, for the layout of <paramref name="setup"/>.</summary>
    public static IReadOnlyList<LayerOp> Ops(TransformerShape shape, ActivationSetup setup, AttentionKernels kernels)
    {
        shape.Validate(setup.TensorParallel);
        double s = setup.Sequence, b = setup.MicroBatch, h = shape.Hidden, a = shape.Heads, f = shape.FfnSize, t = setup.TensorParallel;
        double e = setup.ActivationBytes, hkv = h * shape.KeyValueHeads / shape.Heads, tokens = s * b;
        double sq = a * s * s * b / t; // elements of one s^2 tensor on this GPU
        double replicated = setup.SequenceParallel ? t : 1; // layer norms, dropouts and residuals split over t only under sequence parallelism
        LayerOp Matmul(string name, double m, double k, double n) => new(name, 2 * m * k * n / t, e * (m * k + k * n + m * n) / t, 2, false);
        LayerOp Pointwise(string name, double reads, double writes, double masks = 0, double factor = 1.5, bool core = false) =>
            new(name, 0, e * (reads + writes) + masks, factor, core);
        var ops = new List<LayerOp>
        {
            Pointwise("input layer norm", tokens * h / replicated, tokens * h / replicated, factor: 2),
            new("QKV projection", 2 * tokens * h * (h + 2 * hkv) / t, e * (tokens * h + h * (h + 2 * hkv) + tokens * (h + 2 * hkv)) / t, 2, false),
        };
        if (kernels == AttentionKernels.Flash)
            ops.Add(new("flash attention (scores, softmax, dropout, values)", 4 * b * s * s * h / t, e * tokens * (2 * h + 2 * hkv) / t, 2.5, true));
        else
        {
            ops.Add(new("scores QK^T", 2 * b * s * s * h / t, e * (tokens * (h + hkv) / t + sq), 2, true));
            if (kernels == AttentionKernels.Unfused)
            {
                ops.Add(Pointwise("scale and mask", sq, sq, core: true));
                ops.Add(Pointwise("softmax", sq, sq, core: true));
            }
            else
                ops.Add(Pointwise("fused scale, mask and softmax", sq, sq, core: true));
            if (setup.Dropout)
                ops.Add(Pointwise("attention dropout", sq, sq, masks: sq, core: true));
            ops.Add(new("weighted values", 2 * b * s * s * h / t, e * (sq + tokens * (hkv + h) / t), 2, true));
        }
        ops.Add(Matmul("output projection", tokens, h, h));
        ops.Add(Pointwise("dropout and residual", 2 * tokens * h / replicated, tokens * h / replicated, setup.Dropout ? tokens * h / replicated : 0));
        ops.Add(Pointwise("MLP layer norm", tokens * h / replicated, tokens * h / replicated, factor: 2));
        if (shape.GatedMlp)
        {
            ops.Add(Matmul("gate and up projections", tokens, h, 2 * f));
            ops.Add(Pointwise("SiLU and product", 2 * tokens * f / t, 2 * tokens * f / t));
        }
        else
        {
            ops.Add(Matmul("first MLP linear", tokens, h, f));
            ops.Add(Pointwise("GeLU", tokens * f / t, tokens * f / t));
        }
        ops.Add(Matmul("second MLP linear", tokens, f, h));
        ops.Add(Pointwise("dropout and residual", 2 * tokens * h / replicated, tokens * h / replicated, setup.Dropout ? tokens * h / replicated : 0));
        return ops;
    }

    /// <summary>
    /// The time of one micro-batch through the first pipeline stage's layers on <paramref name="gpu"/>: every layer's
    /// forward and backward, and the recomputation the setup asks for (full layers run their forward again; selective
    /// recompute runs the attention core again, which FlashAttention's backward does anyway). The kernels are flash
    /// where the setup says so, else <paramref name="kernels"/>.
    /// </summary>
    public static TimeEstimate Estimate(TransformerShape shape, TrainingSetup setup, Accelerator gpu, AttentionKernels kernels = AttentionKernels.Unfused)
    {
        ArgumentNullException.ThrowIfNull(gpu);
        setup.Validate(shape);
        var act = setup.Activations;
        if (act.FlashAttention)
            kernels = AttentionKernels.Flash;
        else if (kernels == AttentionKernels.Flash)
            throw new ArgumentException("flash attention kernels store no s^2 tensor: set the flash attention flag of the activations too.");
        var ops = Ops(shape, act, kernels);
        double Forward(LayerOp op) => gpu.Seconds(op.Flops, op.Bytes, act.ActivationBytes);
        double forward = ops.Sum(Forward);
        double backward = ops.Sum(op => gpu.Seconds(op.BackwardFactor * op.Flops, op.BackwardFactor * op.Bytes, act.ActivationBytes));
        double core = kernels == AttentionKernels.Flash ? 0 : ops.Where(op => op.AttentionCore).Sum(Forward);
        int layers = shape.Layers / setup.PipelineParallel;
        int full = setup.Recompute == Recompute.Full ? layers : setup.FullyRecomputedLayers;
        double recompute = full * forward + (setup.Recompute == Recompute.Selective ? (layers - full) * core : 0);
        return new TimeEstimate(ops, kernels, forward, backward, recompute, layers * (forward + backward) + recompute);
    }
}
