using Remat.Transformers;

namespace Remat.Tests;

/// <summary>The calculator's time model (<see cref="StepTime"/>): a roofline per kernel of a layer.</summary>
public class StepTimeTests
{
    private static readonly Accelerator H200 = Accelerator.Find("h200")!;

    private static TimeEstimate Time(int hidden, int heads, int sequence, int batch, Recompute recompute, bool flash = false,
        AttentionKernels kernels = AttentionKernels.Unfused) =>
        StepTime.Estimate(new TransformerShape(8, hidden, heads, 51200), new TrainingSetup(new ActivationSetup(sequence, batch, FlashAttention: flash), Recompute: recompute),
            H200, kernels);

    [Fact]
    public void Full_recompute_costs_one_forward_per_layer_and_selective_the_attention_core()
    {
        var none = Time(2048, 16, 1024, 4, Recompute.None);
        var full = Time(2048, 16, 1024, 4, Recompute.Full);
        var selective = Time(2048, 16, 1024, 4, Recompute.Selective);
        Assert.Equal(0, none.RecomputeOverhead);
        Assert.Equal(8 * full.ForwardSeconds, full.RecomputeSeconds, 9);
        Assert.Equal(full.ForwardSeconds / (full.ForwardSeconds + full.BackwardSeconds), full.RecomputeOverhead, 9);
        var core = selective.Ops.Where(o => o.AttentionCore).Sum(o => H200.Seconds(o.Flops, o.Bytes, 2));
        Assert.Equal(8 * core, selective.RecomputeSeconds, 9);
    }

    [Fact]
    public void Where_matrix_products_dominate_full_recompute_costs_about_its_flops_and_where_s2_traffic_does_more()
    {
        // A large hidden size over a short sequence is compute-bound: the time overhead nears the FLOPs' 1/3 share.
        double flops = ComputeCost.RecomputeOverhead(new TransformerShape(8, 8192, 64, 51200),
            new TrainingSetup(new ActivationSetup(512, 4), Recompute: Recompute.Full));
        double time = Time(8192, 64, 512, 4, Recompute.Full).RecomputeOverhead;
        Assert.True(Math.Abs(time - flops) < 0.05, $"compute-bound: time overhead {time:P1} against FLOPs {flops:P1}");
        // Unfused selective recompute reruns memory-bound s^2 kernels: it costs several times its FLOPs share.
        double selectiveFlops = ComputeCost.RecomputeOverhead(new TransformerShape(8, 2048, 16, 51200),
            new TrainingSetup(new ActivationSetup(1024, 4), Recompute: Recompute.Selective));
        double selectiveTime = Time(2048, 16, 1024, 4, Recompute.Selective).RecomputeOverhead;
        Assert.True(selectiveTime > 3 * selectiveFlops, $"selective: time {selectiveTime:P1} against FLOPs {selectiveFlops:P1}");
    }

    [Fact]
    public void Fused_softmax_makes_selective_recompute_cheaper_and_flash_makes_it_free()
    {
        double unfused = Time(2048, 16, 2048, 2, Recompute.Selective).RecomputeOverhead;
        double fused = Time(2048, 16, 2048, 2, Recompute.Selective, kernels: AttentionKernels.FusedSoftmax).RecomputeOverhead;
        Assert.True(fused < unfused, $"fused {fused:P1} against unfused {unfused:P1}");
        Assert.Equal(0, Time(2048, 16, 2048, 2, Recompute.Selective, flash: true).RecomputeOverhead);
        Assert.Equal(AttentionKernels.Flash, Time(2048, 16, 2048, 2, Recompute.None, flash: true).Kernels);
    }

    [Fact]
    public void A_kernel_takes_the_larger_of_its_compute_and_its_traffic_and_at_least_a_launch()
    {
        Assert.Equal(1e15 / (989e12 * Accelerator.MatmulEfficiency), H200.Seconds(1e15, 1, 2), 9);
        Assert.Equal(1e12 / (4.8e12 * Accelerator.MemoryEfficiency), H200.Seconds(1, 1e12, 2), 9);
        Assert.Equal(1e15 / (67e12 * Accelerator.MatmulEfficiency), H200.Seconds(1e15, 1, 4), 9); // fp32: no tensor cores
        Assert.Equal(Accelerator.KernelSeconds, H200.Seconds(1, 1, 2));
    }

    [Fact]
    public void The_recommendation_by_time_prefers_what_costs_least_time()
    {
        // On a GPU where selective recompute's unfused s^2 kernels cost more than their FLOPs say, the advice follows the time.
        var shape = new TransformerShape(8, 2048, 16, 51200);
        var setup = new TrainingSetup(new ActivationSetup(4096, 2));
        var byTime = TrainingMemory.Recommend(shape, setup, 60e9, o => StepTime.Estimate(shape, o, H200).RecomputeOverhead)!.Value;
        var candidates = new[] { Recompute.None, Recompute.Selective, Recompute.Full }
            .SelectMany(m => Enumerable.Range(0, 9).Select(n => setup with { Recompute = m, FullyRecomputedLayers = m == Recompute.Full ? 0 : n }))
            .Where(o => TrainingMemory.Estimate(shape, o).TotalBytes <= 60e9)
            .Min(o => StepTime.Estimate(shape, o, H200).RecomputeOverhead);
        Assert.Equal(candidates, StepTime.Estimate(shape, byTime.Setup, H200).RecomputeOverhead, 9);
    }

    [Fact]
    public void Memory_prints_the_predicted_time_and_says_which_kernels_it_assumes()
    {
        var output = new StringWriter();
        int code = Cli.Cli.Run(["memory", "--layers", "8", "--hidden", "2048", "--heads", "16", "--seq", "1024", "--micro-batch", "4",
            "--recompute", "selective", "--gpu", "h200"], output, new StringWriter());
        Assert.Equal(0, code);
        Assert.Contains("time on an H200 (unfused attention; roofline)", output.ToString());
        Assert.Contains("extra time", output.ToString());
    }
}
