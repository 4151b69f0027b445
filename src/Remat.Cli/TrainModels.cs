using Remat.Torch;
using Remat.Transformers;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Cli;

/// <summary>A model of <c>remat train</c>: its stages and the shapes of one sample's input and target.</summary>
internal sealed record TrainModel(string Name, nn.Module<Tensor, Tensor>[] Stages, long[] InputShape, long[] TargetShape);

/// <summary>The model families of <c>remat train</c>.</summary>
internal static class TrainModels
{
    public static readonly string[] Names = ["mlp", "hourglass", "gpt", "llama"];

    /// <summary>
    /// Builds <paramref name="model"/> from <paramref name="seed"/>:
    /// <c>mlp</c> is <paramref name="layers"/> stages of Linear + ReLU of <paramref name="width"/> (a uniform chain);
    /// <c>hourglass</c> cycles the widths through 1, 2, 4, 2, 1, 1/2, 1/4, 1/2 times it, so activation sizes and costs
    /// vary 16-fold; <c>gpt</c> stacks GPT layers of hidden size <paramref name="width"/> (heads of 64) over
    /// <paramref name="sequence"/> tokens; <c>llama</c> stacks Llama layers (<see cref="LlamaBlock"/>: heads of 64, a
    /// quarter as many key/value heads, a SwiGLU MLP of 8/3 h rounded to 64), each given the rotary tables.
    /// </summary>
    public static TrainModel Build(string model, int layers, int width, int sequence, long seed)
    {
        random.manual_seed(seed);
        if (model == "gpt")
        {
            var blocks = Enumerable.Range(0, layers)
                .Select(_ => (nn.Module<Tensor, Tensor>)new GptBlock(width, Math.Max(1, width / 64), 0, Recompute.None)).ToArray();
            return new TrainModel(model, blocks, [sequence, width], [sequence, width]);
        }
        if (model == "llama")
        {
            int heads = Math.Max(1, width / 64), kvHeads = Math.Max(1, heads / 4), ffn = Math.Max(64, (8 * width / 3 + 63) / 64 * 64);
            if (width % heads != 0 || width / heads % 2 != 0)
                throw new UsageException($"--width {width}: llama cuts it into {heads} heads of about 64, whose size must be whole and even for " +
                                         "the rotary embedding; give an even width below 128, or a multiple of 64.");
            var blocks = Enumerable.Range(0, layers)
                .Select(_ => (nn.Module<Tensor, Tensor>)new WithRotary(new LlamaBlock(width, heads, heads % kvHeads == 0 ? kvHeads : heads, ffn), sequence, width / heads))
                .ToArray();
            return new TrainModel(model, blocks, [sequence, width], [sequence, width]);
        }
        double[] cycle = [1, 2, 4, 2, 1, 0.5, 0.25, 0.5];
        var widths = Enumerable.Range(0, layers + 1)
            .Select(i => model == "mlp" || i == 0 || i == layers ? width : Math.Max(1, (int)(width * cycle[i % cycle.Length])))
            .ToArray();
        var stages = Enumerable.Range(0, layers)
            .Select(i => (nn.Module<Tensor, Tensor>)nn.Sequential(nn.Linear(widths[i], widths[i + 1]), nn.ReLU()))
            .ToArray();
        return new TrainModel(model, stages, [widths[0]], [widths[^1]]);
    }

    /// <summary>A Llama block as a stage of one input: its rotary tables are buffers, moved with it to the device.</summary>
    private sealed class WithRotary : nn.Module<Tensor, Tensor>
    {
        private readonly LlamaBlock block;
        private readonly Tensor cos, sin;

        public WithRotary(LlamaBlock block, int sequence, int headSize) : base(nameof(WithRotary))
        {
            this.block = block;
            (cos, sin) = LlamaBlock.Rotary(sequence, headSize);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => block.forward(x, (cos, sin));
    }
}
