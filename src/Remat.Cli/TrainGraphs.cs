using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Cli;

/// <summary>
/// A graph model of <c>remat train</c> (docs/model.md "Graphs"): node v computes <see cref="Nodes"/>[v - 1] from the
/// outputs of <see cref="Inputs"/>[v - 1] (0 is the image), one layer a node; <see cref="Modules"/> hold the weights.
/// </summary>
internal sealed record TrainGraph(string Name, IReadOnlyList<IReadOnlyList<int>> Inputs, IReadOnlyList<Func<Tensor[], Tensor>> Nodes,
    IReadOnlyList<string> NodeNames, IReadOnlyList<nn.Module> Modules, long[] InputShape, long[] TargetShape);

/// <summary>The graph models of <c>remat train</c>: a small U-Net and a ResNet on synthetic images of 32 x 32 pixels.</summary>
internal static class TrainGraphs
{
    public static readonly string[] Names = ["unet", "resnet"];

    /// <summary>
    /// What the channels of a convolution must be a multiple of: for other output channel counts, libtorch 2.10's oneDNN
    /// convolution gave wrong input gradients on this machine, in plain TorchSharp (docs/torchsharp.md, "A libtorch fault").
    /// </summary>
    public const int ChannelMultiple = 16;

    /// <summary>The nodes of <paramref name="model"/> at <paramref name="depth"/>, before it is built: 11 a U-Net level and 3, 5 a ResNet block and 4.</summary>
    public static long NodeCount(string model, int depth) => model == "unet" ? 11L * depth + 3 : 5L * depth + 4;

    /// <summary>Image channels and side.</summary>
    private const int Channels = 4, Side = 32;

    /// <summary>
    /// Builds <paramref name="model"/> from <paramref name="seed"/>. <c>unet</c> has <paramref name="depth"/> levels (at
    /// most 5): each encoder level two 3x3 convolutions with ReLU and an average pool, a bottleneck, and each decoder level
    /// an upsampling, a concatenation with the encoder's output of that level (the long skip) and two convolutions; the
    /// first level has <paramref name="width"/> channels, each next twice as many. <c>resnet</c> is a stem and
    /// <paramref name="depth"/> residual blocks (convolution, ReLU, convolution, addition of the block's input, ReLU) of
    /// <paramref name="width"/> channels, then a global average pool and a linear layer to 10 outputs.
    /// </summary>
    public static TrainGraph Build(string model, int depth, int width, long seed)
    {
        random.manual_seed(seed);
        var g = new Builder();
        if (model == "unet")
        {
            if (depth > 5)
                throw new UsageException($"--layers is {depth}; a U-Net on {Side} x {Side} images has at most 5 levels.");
            int x = 0, channels = Channels;
            var skips = new Stack<(int Node, int Channels)>();
            for (int level = 0; level < depth; level++)
            {
                int c = width << level;
                x = g.ConvRelu($"enc{level}.a", channels, c, x);
                x = g.ConvRelu($"enc{level}.b", c, c, x);
                skips.Push((x, c));
                x = g.Add($"enc{level}.pool", t => nn.functional.avg_pool2d(t[0], 2), x);
                channels = c;
            }
            x = g.ConvRelu("bottleneck", channels, width << depth, x);
            channels = width << depth;
            for (int level = depth - 1; level >= 0; level--)
            {
                var (skip, c) = skips.Pop();
                x = g.Add($"dec{level}.up", t => nn.functional.interpolate(t[0], scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest), x);
                x = g.Add($"dec{level}.cat", t => cat([t[0], t[1]], 1), x, skip);
                x = g.ConvRelu($"dec{level}.a", channels + c, c, x);
                x = g.ConvRelu($"dec{level}.b", c, c, x);
                channels = c;
            }
            g.Module("head", nn.Conv2d(channels, Channels, 1), x);
            return g.Done(model, [Channels, Side, Side], [Channels, Side, Side]);
        }
        int y = g.ConvRelu("stem", Channels, width, 0);
        for (int block = 0; block < depth; block++)
        {
            int a = g.ConvRelu($"block{block}.a", width, width, y);
            int b = g.Module($"block{block}.b.conv", nn.Conv2d(width, width, 3, padding: 1), a);
            int sum = g.Add($"block{block}.add", t => t[0] + t[1], b, y);
            y = g.Add($"block{block}.relu", t => nn.functional.relu(t[0]), sum);
        }
        y = g.Add("pool", t => t[0].mean([2, 3]), y);
        g.Module("fc", nn.Linear(width, 10), y);
        return g.Done(model, [Channels, Side, Side], [10]);
    }

    /// <summary>Adds nodes one after another; each returns its node's number.</summary>
    private sealed class Builder
    {
        private readonly List<IReadOnlyList<int>> _inputs = [];
        private readonly List<Func<Tensor[], Tensor>> _nodes = [];
        private readonly List<string> _names = [];
        private readonly List<nn.Module> _modules = [];

        public int Add(string name, Func<Tensor[], Tensor> node, params int[] inputs)
        {
            _inputs.Add(inputs);
            _nodes.Add(node);
            _names.Add(name);
            return _nodes.Count;
        }

        public int Module(string name, nn.Module<Tensor, Tensor> module, int input)
        {
            _modules.Add(module);
            return Add(name, t => module.forward(t[0]), input);
        }

        /// <summary>A 3x3 convolution (padding 1) and its ReLU, two nodes; returns the ReLU's.</summary>
        public int ConvRelu(string name, int from, int to, int input) =>
            Add(name + ".relu", t => nn.functional.relu(t[0]), Module(name + ".conv", nn.Conv2d(from, to, 3, padding: 1), input));

        public TrainGraph Done(string name, long[] inputShape, long[] targetShape) =>
            new(name, _inputs, _nodes, _names, _modules, inputShape, targetShape);
    }
}
