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

    /// <summary>The plain training step: forward through every stage, loss, backward.</summary>
    public static float PlainStep(IEnumerable<nn.Module<Tensor, Tensor>> stages, Tensor input)
    {
        var x = input;
        foreach (var s in stages)
            x = s.forward(x);
        var loss = Loss(x);
        loss.backward();
        return loss.item<float>();
    }
}
