using Remat.Transformers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// A GPT transformer layer written with explicit attention operations, so that each recomputation setting of
/// Korthikanti et al. 2022 can run: <see cref="Recompute.None"/> keeps every activation;
/// <see cref="Recompute.Selective"/> runs the core attention (scores, softmax, dropout, weighted values) under the
/// function checkpoint, so its s^2 tensors are recomputed in the backward; <see cref="Recompute.Full"/>
/// checkpoints the whole layer. Under <see cref="Recompute.None"/> the core is declared a part to recompute
/// (<see cref="PartialRecompute"/>), so a plan may still choose selective recompute for this layer alone. Input and
/// output are [batch, sequence, hidden].
/// </summary>
public sealed class GptBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm ln1, ln2;
    private readonly Linear qkv, proj, fc1, fc2;
    private readonly Dropout attnDropout, residDropout1, residDropout2;
    private readonly int _heads;
    private readonly Recompute _recompute;

    /// <summary>A layer of hidden size <paramref name="hidden"/> with <paramref name="heads"/> heads and an MLP of 4h.</summary>
    public GptBlock(int hidden, int heads, double dropout, Recompute recompute) : base("gpt_block")
    {
        if (hidden % heads != 0)
            throw new ArgumentException($"heads ({heads}) must divide hidden ({hidden}).");
        _heads = heads;
        _recompute = recompute;
        ln1 = nn.LayerNorm(hidden);
        qkv = nn.Linear(hidden, 3 * hidden);
        proj = nn.Linear(hidden, hidden);
        ln2 = nn.LayerNorm(hidden);
        fc1 = nn.Linear(hidden, 4 * hidden);
        fc2 = nn.Linear(4 * hidden, hidden);
        attnDropout = nn.Dropout(dropout);
        residDropout1 = nn.Dropout(dropout);
        residDropout2 = nn.Dropout(dropout);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x) =>
        _recompute == Recompute.Full ? Checkpoint.Run(Layer, x) : Layer(x);

    // Every temporary is disposed as soon as the layer is done with it: a TorchSharp handle keeps its tensor
    // alive, so an undisposed one would hold memory that autograd has already let go of.
    private Tensor Layer(Tensor x)
    {
        long b = x.shape[0], s = x.shape[1], h = x.shape[2], d = h / _heads;
        using var normed = ln1.forward(x);
        using var fused = qkv.forward(normed);
        using var parts = fused.view(b, s, 3, _heads, d).permute(2, 0, 3, 1, 4); // [3, b, a, s, d]
        using Tensor q = parts[0], k = parts[1], v = parts[2];
        using var context = _recompute switch
        {
            Recompute.Selective => Checkpoint.Run(t => [CoreAttention(t[0], t[1], t[2])], [q, k, v])[0],
            // Declared, so that a plan may record this layer partially: the core recomputed in the layer's backward.
            Recompute.None => PartialRecompute.Run(t => [CoreAttention(t[0], t[1], t[2])], [q, k, v])[0],
            _ => CoreAttention(q, k, v),
        };
        using var heads = context.transpose(1, 2);
        using var merged = heads.reshape(b, s, h);
        using var projected = proj.forward(merged);
        using var dropped = residDropout1.forward(projected);
        using var attended = x + dropped;
        using var normed2 = ln2.forward(attended);
        using var inner = fc1.forward(normed2);
        using var activated = nn.functional.gelu(inner);
        using var outer = fc2.forward(activated);
        using var dropped2 = residDropout2.forward(outer);
        return attended + dropped2;
    }

    /// <summary>softmax(QK^T / sqrt(d) + causal mask), dropout, times V: the part with s^2 tensors.</summary>
    private Tensor CoreAttention(Tensor q, Tensor k, Tensor v)
    {
        long s = q.shape[2], d = q.shape[3];
        using var keys = k.transpose(2, 3);
        using var raw = matmul(q, keys);
        using var scores = raw / Math.Sqrt(d);
        using var mask = ones(s, s, dtype: ScalarType.Bool, device: q.device).triu(1);
        using var masked = scores.masked_fill(mask, float.NegativeInfinity);
        using var probabilities = softmax(masked, -1);
        using var dropped = attnDropout.forward(probabilities);
        return matmul(dropped, v);
    }
}
