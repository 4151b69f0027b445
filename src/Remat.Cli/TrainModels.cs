using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Cli;

/// <summary>The model families of <c>remat train</c>: chains of Linear + ReLU stages.</summary>
internal static class TrainModels
{
    public static readonly string[] Names = ["mlp", "hourglass"];

    /// <summary>
    /// The stage widths: <c>mlp</c> keeps <paramref name="width"/> throughout (a uniform chain); <c>hourglass</c>
    /// cycles through 1, 2, 4, 2, 1, 1/2, 1/4, 1/2 times it, so activation sizes and costs vary 16-fold.
    /// </summary>
    public static int[] Widths(string model, int layers, int width)
    {
        double[] cycle = [1, 2, 4, 2, 1, 0.5, 0.25, 0.5];
        return Enumerable.Range(0, layers + 1)
            .Select(i => model == "mlp" || i == 0 || i == layers ? width : Math.Max(1, (int)(width * cycle[i % cycle.Length])))
            .ToArray();
    }

    /// <summary>The stages, initialised from <paramref name="seed"/>.</summary>
    public static nn.Module<Tensor, Tensor>[] Build(int[] widths, long seed)
    {
        random.manual_seed(seed);
        return Enumerable.Range(0, widths.Length - 1)
            .Select(i => (nn.Module<Tensor, Tensor>)nn.Sequential(nn.Linear(widths[i], widths[i + 1]), nn.ReLU()))
            .ToArray();
    }
}
