using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

/// <summary>
/// Blocks that take more than the hidden states, as transformer blocks do: a mask, rotary tables. Under the budgeted
/// module and <see cref="Checkpointing.Apply"/> they train with the plain model's gradients, bit for bit, the side
/// inputs' included.
/// </summary>
public class SideInputTests
{
    private const int Width = 32;

    /// <summary>A residual block whose update is gated by a mask (or not, when it is null), with dropout.</summary>
    private sealed class MaskedBlock : nn.Module<Tensor, Tensor, Tensor>
    {
        private readonly Linear up, down;
        private readonly Dropout dropout;

        public MaskedBlock() : base(nameof(MaskedBlock))
        {
            up = nn.Linear(Width, 2 * Width);
            down = nn.Linear(2 * Width, Width);
            dropout = nn.Dropout(0.2);
            RegisterComponents();
        }

        public override Tensor forward(Tensor h, Tensor? mask)
        {
            var update = dropout.forward(down.forward(nn.functional.gelu(up.forward(h))));
            return h + (mask is null ? update : update * mask.sigmoid());
        }
    }

    /// <summary>A block that mixes the hidden states with rotary-like tables (cos, sin).</summary>
    private sealed class RotaryBlock : nn.Module<Tensor, (Tensor, Tensor), Tensor>
    {
        private readonly Linear mix;

        public RotaryBlock() : base(nameof(RotaryBlock))
        {
            mix = nn.Linear(Width, Width);
            RegisterComponents();
        }

        public override Tensor forward(Tensor h, (Tensor, Tensor) tables) =>
            h + mix.forward(h * tables.Item1 + h.flip(-1) * tables.Item2).tanh();
    }

    private static T[] Blocks<T>(Func<T> make, int count = 6)
    {
        random.manual_seed(1);
        return [.. Enumerable.Range(0, count).Select(_ => make())];
    }

    private static Tensor[] Gradients(IEnumerable<nn.Module> blocks, params Tensor[] inputs) =>
        [.. blocks.SelectMany(b => b.parameters()).Select(p => p.grad!.clone()), .. inputs.Select(t => t.grad!.clone())];

    private static void Zero(IEnumerable<nn.Module> blocks, params Tensor[] inputs)
    {
        foreach (var b in blocks)
            b.zero_grad();
        foreach (var t in inputs)
            t.grad?.zero_();
    }

    private static void AssertBitwise(Tensor[] expected, Tensor[] actual, string what) =>
        Models.AssertBitwise(expected, actual, i => $"{what}: gradient {i} differs from the plain model");

    public static TheoryData<string> Settings => ["storeall", "periodic", "budget"];


    [Theory]
    [MemberData(nameof(Settings))]
    public void Blocks_with_a_mask_that_requires_grad_give_the_plain_gradients_of_everything(string setting)
    {
        var blocks = Blocks(() => new MaskedBlock());
        random.manual_seed(2);
        var x = randn(8, Width, requires_grad: true);
        var mask = randn(8, Width, requires_grad: true); // a learned gate, shared by every block
        random.manual_seed(3);
        Models.Loss(blocks.Aggregate(x, (h, b) => b.forward(h, mask))).backward();
        var plain = Gradients(blocks, x, mask);
        Zero(blocks, x, mask);

        var module = new CheckpointedSequential<Tensor>(blocks, new PlanOptions { Strategy = setting == "budget" ? "storeall" : setting, Segments = 2 });
        if (setting == "budget") // the least budget that works: the most recomputation
            module.Options = new PlanOptions { BudgetBytes = Planners.Optimal.MinimumBudget(module.ChainFor(x, mask)) };
        for (int step = 0; step < 2; step++)
        {
            random.manual_seed(3);
            Models.Loss(module.forward(x, mask)).backward();
            AssertBitwise(plain, Gradients(blocks, x, mask), $"{setting}, step {step}");
            Zero(blocks, x, mask);
        }
    }

    [Fact]
    public void A_null_mask_and_a_mask_without_grad_reach_every_block_as_given()
    {
        var blocks = Blocks(() => new MaskedBlock());
        var x = randn(8, Width, requires_grad: true);
        var module = new CheckpointedSequential<Tensor>(blocks, new PlanOptions { Strategy = "periodic", Segments = 3 });
        foreach (var mask in new[] { null, randn(8, Width) })
        {
            random.manual_seed(3);
            Models.Loss(blocks.Aggregate(x, (h, b) => b.forward(h, mask))).backward();
            var plain = Gradients(blocks, x);
            Zero(blocks, x);
            random.manual_seed(3);
            Models.Loss(module.forward(x, mask!)).backward();
            AssertBitwise(plain, Gradients(blocks, x), mask is null ? "a null mask" : "a mask without grad");
            Zero(blocks, x);
        }
        // A mask of another shape is planned for its own: the plans are kept per shape of every input.
        _ = module.forward(x, randn(1, Width));
        Assert.NotSame(module.PlanFor(x, randn(1, Width)), module.PlanFor(x, randn(8, Width)));
    }

    [Fact]
    public void Blocks_with_a_tuple_of_rotary_tables_give_the_plain_gradients()
    {
        var blocks = Blocks(() => new RotaryBlock());
        var x = randn(8, Width, requires_grad: true);
        var angles = randn(Width, requires_grad: true); // learned frequencies: both tables depend on them
        Tensor[] Step(Func<Tensor, (Tensor, Tensor), Tensor> model)
        {
            var tables = (angles.cos(), angles.sin());
            Models.Loss(model(x, tables)).backward();
            var g = Gradients(blocks, x, angles);
            Zero(blocks, x, angles);
            return g;
        }
        var plain = Step((h, t) => blocks.Aggregate(h, (acc, b) => b.forward(acc, t)));
        var module = new CheckpointedSequential<(Tensor, Tensor)>(blocks, new PlanOptions { Strategy = "periodic", Segments = 2 });
        AssertBitwise(plain, Step(module.forward), "rotary tables");
        Assert.Equal(blocks.Length, module.LastPlan!.Chain!.Length);
    }

    [Fact]
    public void Llama_blocks_with_grouped_query_attention_train_with_the_plain_gradients()
    {
        random.manual_seed(1);
        var blocks = Enumerable.Range(0, 4).Select(_ => (nn.Module<Tensor, (Tensor, Tensor), Tensor>)new LlamaBlock(64, 4, 2, 176)).ToArray();
        var x = randn(2, 16, 64, requires_grad: true);
        var rotary = LlamaBlock.Rotary(16, 16);
        Models.Loss(blocks.Aggregate(x, (h, b) => b.forward(h, rotary))).backward();
        var plain = Gradients(blocks, x);
        Zero(blocks, x);
        var module = new CheckpointedSequential<(Tensor, Tensor)>(blocks, new PlanOptions { Strategy = "periodic", Segments = 2 });
        Models.Loss(module.forward(x, rotary)).backward();
        AssertBitwise(plain, Gradients(blocks, x), "Llama blocks");
        Assert.Equal(2, module.LastPlan!.Trace.ForwardsPerStage[0]);
    }

    /// <summary>A model that holds blocks of (hidden, mask) in a module list, as transformer implementations do.</summary>
    private sealed class MaskedModel : nn.Module<Tensor, Tensor, Tensor>
    {
        private readonly ModuleList<nn.Module<Tensor, Tensor, Tensor>> layers;

        public MaskedModel(IEnumerable<nn.Module<Tensor, Tensor, Tensor>> blocks) : base(nameof(MaskedModel))
        {
            layers = new ModuleList<nn.Module<Tensor, Tensor, Tensor>>([.. blocks]);
            RegisterComponents();
        }

        public IEnumerable<nn.Module<Tensor, Tensor, Tensor>> Layers => layers;

        public override Tensor forward(Tensor h, Tensor mask) => layers.Aggregate(h, (acc, b) => b.forward(acc, mask));
    }

    [Fact]
    public void Checkpointing_apply_wraps_blocks_that_take_a_mask_and_trains_with_the_plain_gradients()
    {
        var model = new MaskedModel(Blocks(() => new MaskedBlock()));
        var x = randn(8, Width, requires_grad: true);
        var mask = randn(8, Width, requires_grad: true);
        random.manual_seed(3);
        Models.Loss(model.forward(x, mask)).backward();
        var plain = Gradients([model], x, mask);
        Zero([model], x, mask);

        Assert.Equal(6, Checkpointing.Apply<MaskedBlock>(model));
        Assert.All(model.Layers, l => Assert.IsType<CheckpointWrapper<Tensor>>(l));
        Assert.Contains(model.named_modules(), m => m.name == "layers.0" && m.module is CheckpointWrapper<Tensor>);
        random.manual_seed(3);
        Models.Loss(model.forward(x, mask)).backward();
        AssertBitwise(plain, Gradients([model], x, mask), "Checkpointing.Apply on (hidden, mask) blocks");
    }
}

/// <summary>bf16 and fp16 weights and activations through the budgeted module and the function checkpoint.</summary>
public class MixedPrecisionTests
{
    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Half_precision_models_train_with_the_plain_gradients_and_are_profiled_in_their_own_sizes(ScalarType dtype)
    {
        var stages = Models.Mlp([32, 64, 64, 32, 16], dropout: 0.1);
        foreach (var s in stages)
            s.to(dtype);
        random.manual_seed(2);
        var x = randn(8, 32).to(dtype).requires_grad_(true);
        random.manual_seed(3);
        Models.PlainStep(stages, x);
        var plain = Models.Gradients(stages).Append(x.grad!.clone()).ToArray();
        Models.ZeroGrad(stages);
        x.grad!.zero_();

        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "periodic", Segments = 2 });
        random.manual_seed(3);
        Models.Loss(module.forward(x)).backward();
        Models.AssertBitwise(plain, [.. Models.Gradients(stages), x.grad!], i => $"{dtype}: gradient {i} differs from the plain step");
        Assert.All(plain, g => Assert.Equal(dtype, g.dtype));
        Assert.Equal(8 * 64 * 2, module.ChainFor(x).Stages[0].OutputBytes);
        Models.ZeroGrad(stages);
        x.grad!.zero_();

        random.manual_seed(3);
        Models.Loss(stages.Aggregate(x, (h, s) => Checkpoint.Run(s, h))).backward();
        Models.AssertBitwise(plain, [.. Models.Gradients(stages), x.grad!], i => $"{dtype}, Checkpoint.Run: gradient {i} differs from the plain step");
    }
}
