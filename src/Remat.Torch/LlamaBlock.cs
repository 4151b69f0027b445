using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// A Llama transformer layer (Touvron et al. 2023): RMSNorm, attention with rotary position embeddings and grouped-query
/// attention (fewer key/value heads than query heads), RMSNorm, and a SwiGLU MLP, each with its residual, no biases.
/// It takes the rotary tables as a side input, <c>forward(x, (cos, sin))</c>, so it is a block for
/// <see cref="CheckpointedSequential{TSide}"/>; <see cref="Rotary"/> makes the tables. Input and output are
/// [batch, sequence, hidden]; attention is causal, and its core is declared a part to recompute
/// (<see cref="PartialRecompute"/>).
/// </summary>
public sealed class LlamaBlock : nn.Module<Tensor, (Tensor Cos, Tensor Sin), Tensor>
{
    private readonly RmsNorm attentionNorm, mlpNorm;
    private readonly Linear wq, wk, wv, wo, gate, up, down;
    private readonly int _heads, _kvHeads;

    /// <summary>
    /// A layer of hidden size <paramref name="hidden"/> with <paramref name="heads"/> query heads, <paramref name="kvHeads"/>
    /// key/value heads (which divide them) and a SwiGLU MLP of inner size <paramref name="ffn"/>.
    /// </summary>
    public LlamaBlock(int hidden, int heads, int kvHeads, int ffn) : base("llama_block")
    {
        if (hidden % heads != 0 || heads % kvHeads != 0 || hidden / heads % 2 != 0)
            throw new ArgumentException($"heads ({heads}) must divide hidden ({hidden}) into an even head size, and kv-heads ({kvHeads}) must divide heads.");
        _heads = heads;
        _kvHeads = kvHeads;
        int d = hidden / heads;
        attentionNorm = new RmsNorm(hidden);
        wq = nn.Linear(hidden, hidden, hasBias: false);
        wk = nn.Linear(hidden, kvHeads * d, hasBias: false);
        wv = nn.Linear(hidden, kvHeads * d, hasBias: false);
        wo = nn.Linear(hidden, hidden, hasBias: false);
        mlpNorm = new RmsNorm(hidden);
        gate = nn.Linear(hidden, ffn, hasBias: false);
        up = nn.Linear(hidden, ffn, hasBias: false);
        down = nn.Linear(ffn, hidden, hasBias: false);
        RegisterComponents();
    }

    /// <summary>
    /// The rotary tables for <paramref name="sequence"/> positions and heads of <paramref name="headSize"/>: cos and sin
    /// of position times the frequencies theta^(-2i/d), each [sequence, headSize] (the halves repeated).
    /// </summary>
    public static (Tensor Cos, Tensor Sin) Rotary(int sequence, int headSize, double theta = 10_000, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var frequencies = pow(theta, -arange(0, headSize, 2, dtype: ScalarType.Float64) / headSize);
        var angles = outer(arange(sequence, dtype: ScalarType.Float64), frequencies);
        var both = cat([angles, angles], -1);
        return (both.cos().to(dtype, device ?? CPU).MoveToOuterDisposeScope(), both.sin().to(dtype, device ?? CPU).MoveToOuterDisposeScope());
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x, (Tensor Cos, Tensor Sin) rotary)
    {
        long b = x.shape[0], s = x.shape[1], h = x.shape[2], d = h / _heads;
        using var scope = NewDisposeScope();
        var normed = attentionNorm.forward(x);
        var q = Rotate(wq.forward(normed).view(b, s, _heads, d).transpose(1, 2), rotary);
        var k = Rotate(wk.forward(normed).view(b, s, _kvHeads, d).transpose(1, 2), rotary);
        var v = wv.forward(normed).view(b, s, _kvHeads, d).transpose(1, 2);
        if (_kvHeads < _heads) // grouped-query attention: each key/value head serves heads / kvHeads query heads
        {
            k = k.repeat_interleave(_heads / _kvHeads, 1);
            v = v.repeat_interleave(_heads / _kvHeads, 1);
        }
        // The attention core is declared a part to recompute: a plan may record this layer without its s^2 tensors.
        var context = PartialRecompute.Run(t => [Core(t[0], t[1], t[2])], [q, k, v])[0].transpose(1, 2).reshape(b, s, h);
        var attended = x + wo.forward(context);
        var normed2 = mlpNorm.forward(attended);
        var mlp = down.forward(nn.functional.silu(gate.forward(normed2)) * up.forward(normed2));
        return (attended + mlp).MoveToOuterDisposeScope();
    }

    /// <summary>Causal attention of [batch, heads, sequence, d] queries, keys and values: softmax(QK^T / sqrt(d)) V.</summary>
    private static Tensor Core(Tensor q, Tensor k, Tensor v)
    {
        long s = q.shape[2];
        using var scope = NewDisposeScope();
        var mask = ones(s, s, dtype: ScalarType.Bool, device: q.device).triu(1);
        var scores = matmul(q, k.transpose(2, 3)).div(Math.Sqrt(q.shape[3])).masked_fill(mask, float.NegativeInfinity);
        return matmul(softmax(scores, -1), v).MoveToOuterDisposeScope();
    }

    /// <summary>Rotary position embedding of [batch, heads, sequence, d]: x cos + rotate_half(x) sin.</summary>
    private static Tensor Rotate(Tensor x, (Tensor Cos, Tensor Sin) rotary)
    {
        long half = x.shape[3] / 2;
        var rotated = cat([-x.narrow(3, half, half), x.narrow(3, 0, half)], -1);
        return x * rotary.Cos + rotated * rotary.Sin;
    }

    /// <summary>Root-mean-square layer norm (Zhang and Sennrich 2019): x / sqrt(mean(x^2) + eps), times a learned scale.</summary>
    private sealed class RmsNorm : nn.Module<Tensor, Tensor>
    {
        private readonly Parameter weight;

        public RmsNorm(int size) : base("rms_norm")
        {
            weight = nn.Parameter(ones(size));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            return (x * rsqrt(x.pow(2).mean([-1], keepdim: true) + 1e-6) * weight).MoveToOuterDisposeScope();
        }
    }
}
