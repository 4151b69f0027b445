using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Gpu.Tests;

/// <summary>Partial records on CUDA: GPT layers recorded without their attention core, with dropout, give the plain gradients.</summary>
public class PartialRecordTests
{
    [Theory]
    [InlineData("selective")]
    [InlineData("optimal")]
    public void Layers_recorded_partially_give_the_plain_gradients(string strategy)
    {
        var device = Gpu.Device;
        random.manual_seed(1);
        var blocks = Enumerable.Range(0, 6)
            .Select(_ => (nn.Module<Tensor, Tensor>)new GptBlock(512, 8, 0.1, Remat.Transformers.Recompute.None).to(device)).ToArray();
        Gpu.Seed(2);
        var x = randn(8, 256, 512, device: device).requires_grad_(true);
        var module = new CheckpointedSequential(blocks, new PlanOptions { Strategy = "selective" });
        if (strategy == "optimal") // halfway between selective's peak and store-all's: the plan picks each layer's record
        {
            var chain = module.ChainFor(x);
            long selective = Planner.Plan(chain, new PlanOptions { Strategy = "selective" }).PeakBytes;
            long storeAll = Simulator.Run(chain, new Remat.Planners.StoreAll().Plan(chain)).PeakBytes;
            module.Options = new PlanOptions { BudgetBytes = (selective + storeAll) / 2 };
        }
        Tensor[] Step(Func<Tensor, Tensor> model)
        {
            foreach (var b in blocks)
                b.zero_grad();
            x.grad?.zero_();
            Gpu.Seed(3);
            model(x).pow(2).mean().backward();
            return [x.grad!.clone(), .. blocks.SelectMany(b => b.parameters()).Select(p => p.grad!.clone())];
        }
        var got = Step(module.forward);
        var plain = Step(h => blocks.Aggregate(h, (acc, b) => b.forward(acc)));
        for (int i = 0; i < plain.Length; i++)
            Assert.True(plain[i].eq(got[i]).all().item<bool>(), $"{strategy}: gradient {i} differs from the plain model's");
        if (strategy == "selective")
            Assert.Equal(6, module.LastPlan!.Schedule.PartialRecords.Count);
    }
}
