namespace Remat.Transformers;

/// <summary>
/// A GPU as the time model sees it: the matrix throughput for 16-bit and 32-bit activations and the memory bandwidth,
/// from the vendor's datasheets (dense, without sparsity), and the share of each that kernels reach in practice.
/// </summary>
/// <param name="Name">The name the CLI and the page take.</param>
/// <param name="Flops16">Dense bf16/fp16 tensor-core throughput, FLOP/s.</param>
/// <param name="Flops32">fp32 throughput without TF32 (PyTorch's default for matrix products), FLOP/s.</param>
/// <param name="Bandwidth">Memory bandwidth, bytes/s.</param>
/// <param name="Source">Where the figures come from.</param>
public sealed record Accelerator(string Name, double Flops16, double Flops32, double Bandwidth, string Source)
{
    /// <summary>
    /// The share of the peak throughput a large matrix product reaches (cuBLAS on Hopper and Ampere reaches 70-80% of
    /// the datasheet's dense figure on the shapes of a transformer layer), assumed, not fitted.
    /// </summary>
    public const double MatmulEfficiency = 0.75;

    /// <summary>The share of the bandwidth a streaming kernel (an element-wise op, a softmax, a layer norm) reaches, assumed.</summary>
    public const double MemoryEfficiency = 0.8;

    /// <summary>The least time of a kernel: its launch and its tail, about 4 microseconds on these GPUs, assumed.</summary>
    public const double KernelSeconds = 4e-6;

    /// <summary>The GPUs the calculator knows.</summary>
    public static IReadOnlyList<Accelerator> All { get; } =
    [
        new("a100", 312e12, 19.5e12, 2.039e12, "NVIDIA A100 datasheet (SXM4 80 GB: 312 TFLOP/s bf16 dense, 19.5 fp32, 2,039 GB/s)"),
        new("h100", 989e12, 67e12, 3.35e12, "NVIDIA H100 datasheet (SXM5: 989 TFLOP/s bf16 dense, 67 fp32, 3.35 TB/s)"),
        new("h200", 989e12, 67e12, 4.8e12, "NVIDIA H200 datasheet (SXM: 989 TFLOP/s bf16 dense, 67 fp32, 4.8 TB/s)"),
    ];

    /// <summary>The GPU called <paramref name="name"/>, or null.</summary>
    public static Accelerator? Find(string name) => All.FirstOrDefault(a => a.Name.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The roofline time of a kernel: the larger of its FLOPs over the matrix throughput for
    /// <paramref name="activationBytes"/>-byte values and its bytes over the bandwidth, and at least a launch.
    /// </summary>
    public double Seconds(double flops, double bytes, int activationBytes) =>
        Math.Max(KernelSeconds, Math.Max(flops / ((activationBytes <= 2 ? Flops16 : Flops32) * MatmulEfficiency), bytes / (Bandwidth * MemoryEfficiency)));
}
