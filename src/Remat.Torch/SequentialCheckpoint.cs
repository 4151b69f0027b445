using Remat.Planners;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// PyTorch's <c>checkpoint_sequential</c>: the modules are cut into segments as <see cref="Periodic"/> cuts a chain
/// (L / n modules each, the last segment taking the rest); every segment but the last runs under
/// <see cref="Checkpoint"/>, the last runs plain. More segments than modules means one module per segment
/// (PyTorch would instead stop checkpointing).
/// </summary>
public static class SequentialCheckpoint
{
    /// <summary>Runs the children of <paramref name="sequential"/>, in order, on <paramref name="input"/> in <paramref name="segments"/> segments.</summary>
    public static Tensor Run(TorchSharp.Modules.Sequential sequential, int segments, Tensor input, bool preserveRngState = true)
    {
        ArgumentNullException.ThrowIfNull(sequential);
        return Run([.. sequential.children().Cast<nn.Module<Tensor, Tensor>>()], segments, input, preserveRngState);
    }

    /// <summary>Runs <paramref name="modules"/> on <paramref name="input"/> in <paramref name="segments"/> segments.</summary>
    public static Tensor Run(IReadOnlyList<nn.Module<Tensor, Tensor>> modules, int segments, Tensor input, bool preserveRngState = true)
    {
        int n = new Periodic(segments).SegmentsFor(modules.Count), size = modules.Count / n;
        var x = input;
        for (int i = 0; i < n - 1; i++)
        {
            var segment = modules.Skip(i * size).Take(size).ToArray();
            x = Checkpoint.Run(t => [segment.Aggregate(t[0], (acc, m) => m.forward(acc))], [x], preserveRngState, segment)[0];
        }
        return modules.Skip((n - 1) * size).Aggregate(x, (acc, m) => m.forward(acc));
    }
}
