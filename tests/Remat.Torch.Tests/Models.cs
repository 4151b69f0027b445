using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

/// <summary>A stage that counts its forward calls, so tests check the executor against the schedule.</summary>
internal sealed class Counting : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> inner;

    public Counting(nn.Module<Tensor, Tensor> inner) : base("counting")
    {
        this.inner = inner;
        RegisterComponents();
    }

    public int Calls { get; set; }

    public override Tensor forward(Tensor x)
    {
        Calls++;
        return inner.forward(x);
    }
}

internal static class Models
{
    /// <summary>An MLP whose stages change width: Linear, then ReLU (Tanh at the end), with dropout in between.</summary>
    public static Counting[] Mlp(int[] widths, double dropout = 0, int seed = 1)
    {
        random.manual_seed(seed);
        return Enumerable.Range(0, widths.Length - 1).Select(i =>
            new Counting(nn.Sequential(nn.Linear(widths[i], widths[i + 1]), nn.Dropout(dropout),
                i == widths.Length - 2 ? nn.Tanh() : nn.ReLU()))).ToArray();
    }

    public static Tensor[] Gradients(IEnumerable<nn.Module> stages) =>
        stages.SelectMany(s => s.parameters()).Select(p => p.grad!.clone()).ToArray();

    public static void ZeroGrad(IEnumerable<nn.Module> stages)
    {
        foreach (var s in stages)
            s.zero_grad();
    }

    public static Tensor Loss(Tensor y) => y.pow(2).mean();

    /// <summary>
    /// Asserts that each tensor has the shape and, bit for bit, the values of its expected one; <paramref name="what"/>
    /// says what the i-th is and that it differs, and the message adds both values.
    /// </summary>
    public static void AssertBitwise(Tensor[] expected, Tensor[] actual, Func<int, string> what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i].shape.SequenceEqual(actual[i].shape) && expected[i].eq(actual[i]).all().item<bool>(),
                $"{what(i)}: {actual[i].str()} against {expected[i].str()}");
    }

    /// <summary>
    /// Asserts that each tensor has the shape of its expected one and values within <paramref name="tolerance"/> of its
    /// largest magnitude: for sums whose terms are added in another order (float addition is not associative).
    /// </summary>
    public static void AssertClose(Tensor[] expected, Tensor[] actual, double tolerance, Func<int, string> what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double scale = expected[i].abs().max().item<float>(), difference = (expected[i] - actual[i]).abs().max().item<float>();
            Assert.True(expected[i].shape.SequenceEqual(actual[i].shape) && difference <= tolerance * scale,
                $"{what(i)}: differs by {difference}, over {tolerance} of its largest magnitude {scale}");
        }
    }

    /// <summary>The plain training step: forward through every stage, loss, backward.</summary>
    public static float PlainStep(IEnumerable<nn.Module<Tensor, Tensor>> stages, Tensor input)
    {
        var x = input;
        foreach (var s in stages)
            x = s.forward(x);
        var loss = Loss(x);
        loss.backward();
        return loss.to_type(ScalarType.Float32).item<float>();
    }
}
