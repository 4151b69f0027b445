using System.Diagnostics;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Bench;

/// <summary>
/// How far libtorch's oneDNN convolution gradients are from libtorch's own kernels' on this machine, by layer shape and
/// thread count, and what turning oneDNN off costs (docs/torchsharp.md, "A libtorch fault"). The own kernels are the
/// reference: they agree with central differences in float64 (checked here on the first layer).
/// </summary>
internal static class ConvolutionGradients
{
    public static void Run()
    {
        Console.WriteLine($"threads {get_num_threads()}; reference check, the first input gradient of a 6 -> 6 Conv1d:");
        FiniteDifference();
        Console.WriteLine();
        Console.WriteLine("| layer | input | threads | input gradient | weight gradient |");
        Console.WriteLine("|---|---|---|---|---|");
        int threads = get_num_threads();
        foreach (int t in new[] { threads, 1 })
        {
            set_num_threads(t);
            foreach (var (name, layer, shapes) in Layers())
                foreach (long[] shape in shapes)
                {
                    var (input, weight) = Errors(layer(), shape);
                    Console.WriteLine($"| {name} | [{string.Join(", ", shape)}] | {t} | {input:G2} | {weight:G2} |");
                }
        }
        set_num_threads(threads);
        Console.WriteLine();
        Console.WriteLine("A training step of four 3x3 convolutions (3 -> c -> c -> c -> 3) with ReLU, batch 8; 7 rounds, oneDNN on and off alternating:");
        Console.WriteLine("| c | image | oneDNN, ms | own kernels, ms | ratio, median (min-max) |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (c, side) in new[] { (16, 32), (32, 64), (64, 32) })
            Timing(c, side);
    }

    /// <summary>The layers measured: 3-tap (3x3) convolutions with padding 1 by channel counts, and three kinds of head.</summary>
    private static IEnumerable<(string Name, Func<nn.Module<Tensor, Tensor>> Layer, long[][] Shapes)> Layers()
    {
        foreach (var (ic, oc) in new[] { (6, 6), (16, 6), (6, 16), (16, 16), (20, 20), (32, 32) })
            yield return ($"Conv1d {ic} -> {oc}", () => nn.Conv1d(ic, oc, 3, padding: 1), [[4, ic, 12]]);
        foreach (var (ic, oc) in new[] { (3, 16), (6, 6), (8, 8), (12, 12), (16, 8), (16, 16), (24, 24), (32, 32), (40, 40), (48, 48) })
            yield return ($"Conv2d {ic} -> {oc}", () => nn.Conv2d(ic, oc, 3, padding: 1), [[4, ic, 8, 8], [32, ic, 32, 32]]);
        yield return ("head Conv2d 16 -> 3", () => nn.Conv2d(16, 3, 3, padding: 1), [[8, 16, 32, 32]]);
        yield return ("head Conv2d 64 -> 1, 1x1", () => nn.Conv2d(64, 1, 1), [[8, 64, 32, 32]]);
        yield return ("head ConvTranspose2d 32 -> 3, 2x2 stride 2", () => nn.ConvTranspose2d(32, 3, 2, stride: 2), [[8, 32, 16, 16]]);
    }

    /// <summary>The largest differences of the input and weight gradients, oneDNN against own kernels, relative to the largest value.</summary>
    private static (double Input, double Weight) Errors(nn.Module<Tensor, Tensor> conv, long[] shape)
    {
        random.manual_seed(1);
        var x = randn(shape);
        var g = randn_like(conv.forward(x));
        Tensor[] Gradients()
        {
            var xi = x.detach().requires_grad_(true);
            return [.. autograd.grad([conv.forward(xi)], [xi, conv.parameters().First()], [g])];
        }
        var oneDnn = Gradients();
        Tensor[] own;
        using (Backends.OwnKernels())
            own = Gradients();
        static double Relative(Tensor a, Tensor b) => ((a - b).abs().max() / b.abs().max()).item<float>();
        return (Relative(oneDnn[0], own[0]), Relative(oneDnn[1], own[1]));
    }

    /// <summary>The input gradient's first element of a 6 -> 6 Conv1d, by both kernels and by central differences in float64.</summary>
    private static void FiniteDifference()
    {
        random.manual_seed(1);
        var conv = nn.Conv1d(6, 6, 3, padding: 1);
        var x = randn(4, 6, 12);
        var g = randn(4, 6, 12);
        double Gradient()
        {
            var xi = x.detach().requires_grad_(true);
            return autograd.grad([(conv.forward(xi) * g).sum()], [xi])[0][0, 0, 0].item<float>();
        }
        double oneDnn = Gradient(), own;
        using (Backends.OwnKernels())
            own = Gradient();
        conv.to(float64);
        var (x64, g64) = (x.to(float64), g.to(float64));
        double x0 = x64[0, 0, 0].item<double>(), h = 1e-6;
        double Loss(double value)
        {
            using var _ = no_grad();
            x64[0, 0, 0] = value;
            return (conv.forward(x64) * g64).sum().item<double>();
        }
        double difference = (Loss(x0 + h) - Loss(x0 - h)) / (2 * h);
        Console.WriteLine($"  finite difference {difference:G6}; own kernels (float32) {own:G6}; oneDNN (float32) {oneDnn:G6}");
    }

    private static void Timing(int c, int side)
    {
        random.manual_seed(1);
        var net = nn.Sequential(nn.Conv2d(3, c, 3, padding: 1), nn.ReLU(), nn.Conv2d(c, c, 3, padding: 1), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding: 1), nn.ReLU(), nn.Conv2d(c, 3, 3, padding: 1));
        var x = randn(8, 3, side, side);
        double Step()
        {
            const int steps = 5;
            net.zero_grad();
            net.forward(x).pow(2).mean().backward(); // warm
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < steps; i++)
            {
                using var scope = NewDisposeScope();
                net.zero_grad();
                net.forward(x).pow(2).mean().backward();
            }
            return watch.Elapsed.TotalMilliseconds / steps;
        }
        var on = new List<double>();
        var off = new List<double>();
        for (int round = 0; round < 7; round++)
        {
            on.Add(Step());
            using (Backends.OwnKernels())
                off.Add(Step());
        }
        var ratios = off.Zip(on, (a, b) => a / b).Order().ToArray();
        Console.WriteLine($"| {c} | {side} x {side} | {on.Order().ElementAt(3):F1} | {off.Order().ElementAt(3):F1} | {ratios[3]:F2} ({ratios[0]:F2}-{ratios[^1]:F2}) |");
    }
}
