using Remat.Planners;
using Remat.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Gpu.Tests;

/// <summary>
/// Every entry point's recomputations draw their first run's dropout masks on CUDA: the checkpointed step, run first in
/// its process (as the first CUDA dropout of a fresh process, where a reseeding replay went wrong), gives the gradients
/// of the plain step from the same seeds, bit for bit; without dropout too. <see cref="FreshProcessTests"/> runs each
/// of these in 20 fresh processes.
/// </summary>
public class DropoutReplayTests
{
    private const int Batch = 4096, Width = 1024;

    /// <summary>Three blocks of Linear and Dropout(p), on the device.</summary>
    private static nn.Module<Tensor, Tensor>[] Blocks(Device device, double p)
    {
        random.manual_seed(1);
        return [.. Enumerable.Range(0, 3).Select(_ => (nn.Module<Tensor, Tensor>)nn.Sequential(nn.Linear(Width, Width), nn.Dropout(p)).to(device))];
    }

    /// <summary>The loss of the checks: the output against a random tensor drawn after the forward.</summary>
    private static Tensor Loss(Tensor y) => (y * randn_like(y)).sum();

    /// <summary>
    /// Runs <paramref name="checkpointed"/> (a step: forward, <see cref="Loss"/>, backward) then the plain step on the
    /// same blocks, input and seeds, and asserts that the input's and the parameters' gradients are equal bitwise.
    /// </summary>
    private static void AssertPlain(double p, Action<nn.Module<Tensor, Tensor>[], Tensor> checkpointed, string what)
    {
        var device = Gpu.Device;
        var blocks = Blocks(device, p);
        Gpu.Seed(7);
        var x = randn(Batch, Width, device: device).requires_grad_(true);
        Tensor[] Step(Action<Tensor> step)
        {
            Gpu.Seed(11);
            foreach (var b in blocks)
                b.zero_grad();
            x.grad?.zero_();
            step(x);
            return [x.grad!.clone(), .. blocks.SelectMany(b => b.parameters()).Select(q => q.grad!.clone())];
        }
        var got = Step(t => checkpointed(blocks, t));
        var expected = Step(t => Loss(blocks.Aggregate(t, (acc, b) => b.forward(acc))).backward());
        for (int i = 0; i < expected.Length; i++)
        {
            double difference = (got[i] - expected[i]).abs().max().item<float>();
            Assert.True(difference == 0, $"{what}, dropout {p}: gradient {i} differs from the plain step's by up to {difference}");
        }
    }

    public static TheoryData<double> Rates => [0.5, 0.0];

    [Theory]
    [MemberData(nameof(Rates))]
    public void Function_checkpoint(double p) =>
        AssertPlain(p, (blocks, x) => Loss(Checkpoint.Run(t => blocks.Aggregate(t, (acc, b) => b.forward(acc)), x)).backward(), "Checkpoint.Run");

    [Theory]
    [MemberData(nameof(Rates))]
    public void Sequential_checkpoint(double p) =>
        AssertPlain(p, (blocks, x) => Loss(SequentialCheckpoint.Run(blocks, 2, x)).backward(), "SequentialCheckpoint.Run, 2 segments");

    [Theory]
    [MemberData(nameof(Rates))]
    public void Checkpointed_sequential(double p) =>
        AssertPlain(p, (blocks, x) => Loss(new CheckpointedSequential(blocks, new PlanOptions { Strategy = "periodic", Segments = 2 }).forward(x)).backward(),
            "CheckpointedSequential, periodic(2)");

    [Theory]
    [MemberData(nameof(Rates))]
    public void Checkpointing_apply(double p) =>
        AssertPlain(p, (blocks, x) =>
        {
            var model = new Stack(blocks);
            Checkpointing.Apply<Sequential>(model);
            Loss(model.forward(x)).backward();
        }, "Checkpointing.Apply");

    /// <summary>A model that holds its blocks in a module list, where <see cref="Checkpointing.Apply"/> finds them.</summary>
    private sealed class Stack : nn.Module<Tensor, Tensor>
    {
        private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;

        public Stack(IEnumerable<nn.Module<Tensor, Tensor>> blocks) : base(nameof(Stack))
        {
            this.blocks = new ModuleList<nn.Module<Tensor, Tensor>>([.. blocks]);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => blocks.Aggregate(x, (acc, b) => b.forward(acc));
    }

    [Theory]
    [MemberData(nameof(Rates))]
    public void Schedule_executor(double p) =>
        AssertPlain(p, (blocks, x) => new ScheduleExecutor(blocks).Step(new Revolve(1).Plan(Chain.Uniform(blocks.Length, 1, 1)), x, Loss),
            "ScheduleExecutor, Revolve(1)");
}
