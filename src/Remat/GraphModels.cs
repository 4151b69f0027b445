namespace Remat;

/// <summary>
/// Synthetic layer-level graphs of two branching architectures, for planning and benchmarks: sizes follow the
/// shapes of the layers (channels double as the resolution halves), times follow their arithmetic. They are models
/// of the models, not measurements; the TorchSharp profiler measures real ones.
/// </summary>
public static class GraphModels
{
    /// <summary>
    /// A U-Net with <paramref name="levels"/> levels (Ronneberger et al. 2015): per encoder level conv, relu, conv, relu,
    /// pool; a bottleneck of conv, relu, conv, relu; per decoder level upsample, concat (reading the encoder level's
    /// output: the long skip), conv, relu, conv, relu; and a 1x1 head. <paramref name="activationBytes"/> is the size
    /// of a first-level feature map. Five levels give 60 nodes.
    /// </summary>
    public static Graph UNet(int levels = 5, long activationBytes = 16L << 20)
    {
        if (levels < 1)
            throw new ChainException($"a U-Net needs at least one level, not {levels}.");
        var b = new Builder(activationBytes);
        int x = 0;
        var skips = new int[levels];
        for (int l = 0; l < levels; l++)
        {
            long size = activationBytes >> l; // twice the channels on a quarter of the pixels
            x = b.Conv($"enc{l}.conv1", x, size, l);
            x = b.Relu($"enc{l}.relu1", x, size);
            x = b.Conv($"enc{l}.conv2", x, size, l);
            x = skips[l] = b.Relu($"enc{l}.relu2", x, size);
            x = b.Add($"enc{l}.pool", [x], size / 4, size, 0.2);
        }
        long bottom = activationBytes >> levels;
        x = b.Conv("mid.conv1", x, bottom, levels);
        x = b.Relu("mid.relu1", x, bottom);
        x = b.Conv("mid.conv2", x, bottom, levels);
        x = b.Relu("mid.relu2", x, bottom);
        for (int l = levels - 1; l >= 0; l--)
        {
            long size = activationBytes >> l;
            x = b.Add($"dec{l}.up", [x], size, size, 0.5);
            x = b.Add($"dec{l}.concat", [x, skips[l]], 2 * size, 2 * size, 0.2);
            x = b.Conv($"dec{l}.conv1", x, size, l);
            x = b.Relu($"dec{l}.relu1", x, size);
            x = b.Conv($"dec{l}.conv2", x, size, l);
            x = b.Relu($"dec{l}.relu2", x, size);
        }
        b.Conv("head", x, activationBytes / 32, 0);
        return b.Build($"unet-{levels}");
    }

    /// <summary>
    /// A ResNet of <paramref name="blocks"/> basic blocks (He et al. 2016) in four stages: a stem of conv, bn, relu; per
    /// block conv, bn, relu, conv, bn, add (reading the block's input: the residual), relu; then pool and a linear
    /// head. 21 blocks give 152 nodes.
    /// </summary>
    public static Graph ResNet(int blocks = 21, long activationBytes = 8L << 20)
    {
        if (blocks < 1)
            throw new ChainException($"a ResNet needs at least one block, not {blocks}.");
        var b = new Builder(activationBytes);
        int x = b.Conv("stem.conv", 0, activationBytes, 0);
        x = b.Add("stem.bn", [x], activationBytes, 2 * activationBytes, 0.3);
        x = b.Relu("stem.relu", x, activationBytes);
        for (int i = 0; i < blocks; i++)
        {
            int stage = Math.Min(3, i * 4 / blocks);
            long size = activationBytes >> stage;
            int input = x;
            x = b.Conv($"block{i}.conv1", x, size, stage);
            x = b.Add($"block{i}.bn1", [x], size, 2 * size, 0.3);
            x = b.Relu($"block{i}.relu1", x, size);
            x = b.Conv($"block{i}.conv2", x, size, stage);
            x = b.Add($"block{i}.bn2", [x], size, 2 * size, 0.3);
            x = b.Add($"block{i}.add", [x, input], size, size, 0.1);
            x = b.Relu($"block{i}.relu2", x, size);
        }
        x = b.Add("pool", [x], activationBytes / 64, activationBytes / 64, 0.1);
        b.Add("fc", [x], 4096, 4096, 0.1);
        return b.Build($"resnet-{blocks}");
    }

    /// <summary>Appends nodes; each returns the new node's number.</summary>
    private sealed class Builder(long inputBytes)
    {
        private readonly List<Stage> _nodes = [];
        private readonly List<IReadOnlyList<int>> _inputs = [];

        private long Size(int v) => v == 0 ? inputBytes : _nodes[v - 1].OutputBytes;

        /// <summary>A node whose forward time is <paramref name="work"/> per MiB of output, its backward twice that.</summary>
        public int Add(string name, int[] inputs, long output, long saved, double work)
        {
            double f = work * output / (1 << 20);
            _nodes.Add(new Stage(name, f, 2 * f, output, Math.Max(output, saved)));
            _inputs.Add(inputs);
            return _nodes.Count;
        }

        /// <summary>A 3x3 convolution at a level: it saves its input, and costs more per byte where the channels are many.</summary>
        public int Conv(string name, int x, long output, int level) =>
            Add(name, [x], output, output + Size(x), 4.0 * (1 << level));

        /// <summary>A ReLU: saves its output only, in place of its input.</summary>
        public int Relu(string name, int x, long output) => Add(name, [x], output, output, 0.1);

        public Graph Build(string name) => new(inputBytes, _nodes, _inputs, name);
    }
}
