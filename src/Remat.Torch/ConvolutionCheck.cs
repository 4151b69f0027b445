using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Finds convolutions whose gradients libtorch computes wrongly on this machine. The oneDNN kernels of libtorch 2.10,
/// as TorchSharp-cpu 0.107.0 ships them, return wrong input gradients for some shapes on some CPUs (docs/torchsharp.md,
/// "A libtorch fault"); a training step with such a layer is wrong with checkpointing or without. The check runs a
/// module's forward and backward on the same data and the same random upstream gradient with oneDNN, on the current
/// threads and on one (on several threads a wrong result varies and is sometimes right; on one it repeats), and with
/// libtorch's own kernels (<see cref="Backends"/>), and throws when a gradient differs by more than 1% of its norm plus
/// 1e-4 of the module's largest gradient norm (faults measured here were 13% and more, or NaN, but for one that the
/// run on one thread found as NaN; agreement, 6e-4 or less). It checks only what oneDNN runs: a module holding a
/// convolution whose weight is a float32 tensor on the CPU, while oneDNN is on. The profiler runs it on every stage or
/// graph node that holds one.
/// </summary>
public static class ConvolutionCheck
{
    /// <summary>
    /// The difference allowed, relative to the gradient (Euclidean norms): where a ReLU's input is within rounding of 0,
    /// the two kernels' forwards can fall on either side, which moved gradients by up to 6e-4 of their norm here.
    /// </summary>
    private const double Tolerance = 1e-2;

    /// <summary>
    /// And relative to the module's largest gradient: the rounding noise of a gradient that should be 0 (a
    /// convolution's bias before a normalisation) is not judged against its own size (it was 1e-5 of it or less here).
    /// </summary>
    private const double NoiseFloor = 1e-4;

    /// <summary>
    /// Checks <paramref name="module"/>'s gradients on <paramref name="input"/>: those of its parameters, and of the input
    /// when <paramref name="inputNeedsGradient"/> (as it does for every stage after the first). Parameter gradients,
    /// the running statistics of normalisation layers and the random generator are left as they were found.
    /// </summary>
    /// <exception cref="RematException">A gradient differs: the message names it and the fixes.</exception>
    public static void Verify(nn.Module<Tensor, Tensor> module, Tensor input, bool inputNeedsGradient = false)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(input);
        using var statistics = RunningStatistics.Freeze([module]);
        Verify(module.GetName(), [module], xs => module.forward(xs[0]), [input], [inputNeedsGradient]);
    }

    /// <summary>
    /// Checks <paramref name="function"/> on <paramref name="inputs"/>, the gradients of the parameters of
    /// <paramref name="modules"/> and of the inputs that <paramref name="needsGradient"/> marks; <paramref name="what"/>
    /// names it in the error.
    /// </summary>
    internal static void Verify(string what, IReadOnlyCollection<nn.Module> modules, Func<Tensor[], Tensor> function, Tensor[] inputs, bool[] needsGradient)
    {
        var convolutions = modules.SelectMany(m => new[] { m }.Concat(m.modules())).OfType<Convolution>()
            .Where(c => c.weight is { } w && w.device_type == DeviceType.CPU && w.dtype == ScalarType.Float32).Distinct().ToArray();
        if (convolutions.Length == 0 || !Backends.IsSupported || !Backends.Mkldnn)
            return;
        var parameters = modules.SelectMany(m => m.named_parameters()).Where(p => p.parameter.requires_grad).DistinctBy(p => p.parameter).ToArray();
        var names = inputs.Select((_, i) => inputs.Length == 1 ? "its input" : $"its input {i + 1}").Where((_, i) => needsGradient[i])
            .Concat(parameters.Select(p => $"parameter {p.name}")).ToArray();
        var state = random.get_rng_state();
        int threads = get_num_threads();
        using var scope = NewDisposeScope();
        Tensor?[] Run() => Gradients(function, inputs, needsGradient, [.. parameters.Select(p => p.parameter)], state);
        var runs = new List<(string How, Tensor?[] Gradients)>();
        Tensor?[] own;
        try
        {
            // On several threads oneDNN's wrong results vary from run to run and are sometimes right; on one they repeat.
            runs.Add((threads == 1 ? "on one thread" : $"on {threads} threads", Run()));
            if (threads > 1)
            {
                set_num_threads(1);
                runs.Add(("on one thread", Run()));
                set_num_threads(threads);
            }
            using (Backends.OwnKernels())
                own = Run();
        }
        finally
        {
            set_num_threads(threads);
            random.set_rng_state(state);
        }
        double[] norms = [.. own.Select(b => b is null ? 0 : b.to(float64).norm().item<double>())];
        double scale = norms.Where(v => !double.IsNaN(v)).DefaultIfEmpty(0).Max();
        foreach (var (how, oneDnn) in runs)
            for (int i = 0; i < names.Length; i++)
            {
                if (oneDnn[i] is not { } a || own[i] is not { } b)
                    continue;
                double difference = (a.to(float64) - b.to(float64)).norm().item<double>();
                if (difference <= Tolerance * norms[i] + NoiseFloor * scale)
                    continue;
                string layers = string.Join(", ", convolutions.Select(c => $"{c.GetType().Name} {c.in_channels} -> {c.out_channels}"));
                throw new RematException(
                    $"{what}: libtorch's oneDNN kernels compute the gradient of {names[i]} wrongly on this machine ({how}): it " +
                    $"differs from libtorch's own kernels' by {difference / norms[i]:P1} of its norm ({difference:G3} against " +
                    $"{norms[i]:G3}), on the same data. A plain training step would be just as wrong, so Remat refuses it. It holds " +
                    $"{layers}. Give its convolutions output channels that are a multiple of 16 (oneDNN erred here on every " +
                    "other count it was measured on), or set Remat.Torch.Backends.Mkldnn = false and Backends.Nnpack = false " +
                    "before training (libtorch's own kernels: right, and 2.5 to 23 times slower here) (docs/torchsharp.md, " +
                    "\"A libtorch fault\").");
            }
    }

    /// <summary>One forward and backward from the random generator's <paramref name="state"/>, upstream gradient included.</summary>
    private static Tensor?[] Gradients(Func<Tensor[], Tensor> function, Tensor[] inputs, bool[] needsGradient, Parameter[] parameters, Tensor state)
    {
        random.set_rng_state(state);
        using var grad = enable_grad();
        var xs = inputs.Select((x, i) => x.detach().requires_grad_(needsGradient[i])).ToArray();
        var targets = xs.Where((_, i) => needsGradient[i]).Concat(parameters).ToArray();
        var y = function(xs);
        if (!y.requires_grad || targets.Length == 0)
            return new Tensor?[targets.Length];
        var gradients = autograd.grad([y], targets, [randn_like(y)], allow_unused: true);
        return [.. gradients.Select(g => g is null || g.IsInvalid ? null : g)];
    }
}
