using Remat.Transformers;

namespace Remat.Tests;

public class ActivationMemoryTests
{
    // The paper's four models (Korthikanti et al. 2022, table 3) and two small shapes; s = 2048 unless given.
    public static TheoryData<int, int, int, int, int> Shapes => new()
    {
        { 64, 6144, 2048, 1, 8 },   // 22B
        { 96, 12288, 2048, 1, 8 },  // 175B
        { 128, 20480, 2048, 1, 8 }, // 530B
        { 160, 25600, 2048, 1, 8 }, // 1T
        { 16, 1024, 512, 4, 2 },
        { 12, 768, 1024, 3, 4 },
    };

    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Abs(expected), $"{what}: expected {expected}, got {actual}");

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Every_formula_of_the_paper_is_reproduced(int a, int h, int s, int b, int t)
    {
        var shape = new TransformerShape(24, h, a, 51200);
        double sbh = (double)s * b * h;
        double Bytes(int tp, bool sp, Recompute r) => ActivationMemory.PerLayerBytes(shape, new ActivationSetup(s, b, tp, sp), r);
        Close(sbh * (34 + 5.0 * a * s / h), Bytes(1, false, Recompute.None), "no parallelism");
        Close(sbh * (10 + 24.0 / t + 5.0 * a * s / (h * t)), Bytes(t, false, Recompute.None), "tensor parallel");
        Close(sbh * (34.0 / t + 5.0 * a * s / (h * t)), Bytes(t, true, Recompute.None), "tensor + sequence parallel");
        Close(sbh * (10 + 24.0 / t), Bytes(t, false, Recompute.Selective), "tensor parallel + selective");
        Close(sbh * 34.0 / t, Bytes(t, true, Recompute.Selective), "tensor + sequence parallel + selective");
        Close(2 * sbh, Bytes(t, true, Recompute.Full), "full recompute");
    }

    [Fact]
    public void The_terms_split_as_the_paper_says_attention_11sbh_plus_5as2b_mlp_19sbh_norms_4sbh()
    {
        const double s = 2048, b = 1, h = 6144, a = 64;
        var terms = ActivationMemory.PerLayer(new TransformerShape(48, (int)h, (int)a, 51200), new ActivationSetup((int)s, (int)b), Recompute.None);
        double Sum(string prefix) => terms.Where(x => x.Name.StartsWith(prefix)).Sum(x => x.Bytes);
        Close(11 * s * b * h + 5 * a * s * s * b, Sum("attention"), "attention");
        Close(19 * s * b * h, Sum("mlp"), "mlp");
        Close(4 * s * b * h, Sum("layer norms"), "layer norms");
    }

    [Fact]
    public void Generalisations_follow_hand_derivations()
    {
        const int s = 1000, b = 2, h = 512, a = 8;
        double sbh = (double)s * b * h, as2b = (double)a * s * s * b;
        var plain = new ActivationSetup(s, b);
        // FFN of 3h: the MLP stores 2sbh (input) + 2sbf + 2sbf (linear output, GeLU output) + sbh (mask) = 3sbh + 4sbf.
        // With f = 3h that is 15sbh instead of 19sbh, so the layer is 30sbh + 5as^2b.
        Close(30 * sbh + 5 * as2b, ActivationMemory.PerLayerBytes(new TransformerShape(1, h, a, 100, Ffn: 3 * h), plain, Recompute.None), "ffn 3h");
        // SwiGLU with f = 2h: input 2sbh, gate output, SiLU output, up output, product: 4 x 2sbf = 16sbh, mask sbh: 19sbh,
        // the same as GPT's MLP; the layer is 34sbh + 5as^2b.
        Close(34 * sbh + 5 * as2b, ActivationMemory.PerLayerBytes(new TransformerShape(1, h, a, 100, Ffn: 2 * h, GatedMlp: true), plain, Recompute.None), "swiglu");
        // Grouped-query attention with 2 key/value heads of 8: K and V shrink to a quarter, 2sbh -> sbh/2 each: 34 - 3 = 31sbh.
        Close(31 * sbh + 5 * as2b, ActivationMemory.PerLayerBytes(new TransformerShape(1, h, a, 100, KvHeads: 2), plain, Recompute.None), "gqa");
        // Flash attention: no s^2 tensor; fp32 softmax statistics of 4asb bytes instead: 34sbh + 4asb.
        Close(34 * sbh + 4.0 * a * s * b, ActivationMemory.PerLayerBytes(new TransformerShape(1, h, a, 100), plain with { FlashAttention = true }, Recompute.None), "flash");
        // No dropout: no masks (as^2b + 2 x sbh) and the softmax output feeds x V directly (no second 2as^2b): 32sbh + 2as^2b.
        Close(32 * sbh + 2 * as2b, ActivationMemory.PerLayerBytes(new TransformerShape(1, h, a, 100), plain with { Dropout = false }, Recompute.None), "no dropout");
        // fp32 activations: every 2-byte term doubles, the 1-byte masks stay: 34sbh -> 66sbh (32 x 2 + 2), 5as^2b -> 9as^2b.
        Close(66 * sbh + 9 * as2b, ActivationMemory.PerLayerBytes(new TransformerShape(1, h, a, 100), plain with { ActivationBytes = 4 }, Recompute.None), "fp32");
    }

    [Theory]
    [InlineData(1000, 7, 1, "must divide hidden")]
    [InlineData(1024, 16, 3, "tensor-parallel size")]
    [InlineData(0, 16, 1, "hidden is 0")]
    public void Impossible_shapes_are_refused_naming_the_field(int hidden, int heads, int tp, string message)
    {
        var e = Assert.Throws<ArgumentException>(() =>
            ActivationMemory.PerLayer(new TransformerShape(2, hidden, heads, 100), new ActivationSetup(128, 1, tp), Recompute.None));
        Assert.Contains(message, e.Message);
    }
}
