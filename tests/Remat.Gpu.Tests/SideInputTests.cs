using Remat.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Gpu.Tests;

/// <summary>Blocks with a mask, in bf16 with dropout, on CUDA: the budgeted module gives the plain model's gradients bitwise.</summary>
public class SideInputTests
{
    private sealed class MaskedBlock : nn.Module<Tensor, Tensor, Tensor>
    {
        private readonly Linear up, down;
        private readonly Dropout dropout;

        public MaskedBlock(int width) : base(nameof(MaskedBlock))
        {
            up = nn.Linear(width, 4 * width);
            down = nn.Linear(4 * width, width);
            dropout = nn.Dropout(0.1);
            RegisterComponents();
        }

        public override Tensor forward(Tensor h, Tensor mask) => h + dropout.forward(down.forward(nn.functional.gelu(up.forward(h)))) * mask.sigmoid();
    }

    [Fact]
    public void Blocks_with_a_mask_in_bf16_with_dropout_give_the_plain_gradients()
    {
        var device = Gpu.Device;
        random.manual_seed(1);
        var blocks = Enumerable.Range(0, 6).Select(_ => (nn.Module<Tensor, Tensor, Tensor>)new MaskedBlock(1024).to(device, ScalarType.BFloat16)).ToArray();
        Gpu.Seed(2);
        var x = randn(2048, 1024, device: device).to(ScalarType.BFloat16).requires_grad_(true);
        var mask = randn(2048, 1024, device: device).to(ScalarType.BFloat16).requires_grad_(true);
        var module = new CheckpointedSequential<Tensor>(blocks, new PlanOptions { Strategy = "periodic", Segments = 2 });
        Tensor[] Step(Func<Tensor, Tensor, Tensor> model)
        {
            foreach (var b in blocks)
                b.zero_grad();
            x.grad?.zero_();
            mask.grad?.zero_();
            Gpu.Seed(3);
            model(x, mask).to(ScalarType.Float32).pow(2).mean().backward();
            return [x.grad!.clone(), mask.grad!.clone(), .. blocks.SelectMany(b => b.parameters()).Select(p => p.grad!.clone())];
        }
        var got = Step(module.forward); // first: its recomputations replay the masks of this process's first CUDA dropouts
        var plain = Step((h, m) => blocks.Aggregate(h, (acc, b) => b.forward(acc, m)));
        for (int i = 0; i < plain.Length; i++)
            Assert.True(plain[i].eq(got[i]).all().item<bool>(), $"gradient {i} differs from the plain model's by up to {(plain[i] - got[i]).abs().max().to(ScalarType.Float32).item<float>()}");
    }
}
