using System.Runtime.InteropServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

/// <summary>
/// Mistakes users make and odd models they bring (docs/reliability.md), each run beside the same modules without
/// checkpointing: Remat must do what the plain model does, raise where it raises, and never give other gradients.
/// </summary>
public class UserMistakeTests
{
    private static Tensor Input()
    {
        random.manual_seed(3);
        return randn(6, 16, requires_grad: true);
    }

    private static void AssertBitwise(Tensor[] expected, Tensor[] actual, string what) =>
        Models.AssertBitwise(expected, actual, i => $"{what}: gradient {i} differs from the plain model");

    private static Exception SecondBackward(Tensor loss)
    {
        loss.backward();
        return Assert.ThrowsAny<ExternalException>(() => loss.backward());
    }

    [Fact]
    public void A_second_backward_without_retain_graph_raises_as_the_plain_graph_and_adds_nothing()
    {
        var stages = Models.Mlp([16, 24, 24, 8]);
        var x = Input();
        var plain = SecondBackward(stages.Aggregate(x, (t, s) => s.forward(t)).mean());
        var once = Models.Gradients(stages);
        Models.ZeroGrad(stages);

        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "periodic", Segments = 2 });
        var checkpointed = SecondBackward(module.forward(x).mean());
        Assert.Contains("second time", plain.Message);
        Assert.Contains("second time", checkpointed.Message);
        AssertBitwise(once, Models.Gradients(stages), "CheckpointedSequential after a refused second backward");
        Models.ZeroGrad(stages);

        var each = SecondBackward(stages.Aggregate(x, (t, s) => Checkpoint.Run(s, t)).mean());
        Assert.Contains("second time", each.Message);
        AssertBitwise(once, Models.Gradients(stages), "Checkpoint.Run after a refused second backward");
    }

    [Fact]
    public void A_changed_stage_is_measured_and_planned_again()
    {
        var narrow = nn.Linear(32, 32);
        nn.Module<Tensor, Tensor>[] stages = [nn.Linear(16, 32), nn.Tanh(), narrow, nn.Tanh()];
        var x = Input();
        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "periodic", Segments = 2 });
        module.forward(x).mean().backward();
        Assert.Equal(6 * 32 * 4, module.ChainFor(x).Stages[2].OutputBytes);

        // The third stage widened to 256 outputs: its parameters are replaced by ones of another shape.
        random.manual_seed(5);
        narrow.weight = nn.Parameter(randn(256, 32) * 0.1);
        narrow.bias = nn.Parameter(zeros(256));
        foreach (var s in stages)
            s.zero_grad();
        stages.Aggregate(x, (t, s) => s.forward(t)).mean().backward();
        var plain = stages.SelectMany(s => s.parameters()).Select(p => p.grad!.clone()).ToArray();
        foreach (var s in stages)
            s.zero_grad();
        module.forward(x).mean().backward();
        var chain = module.ChainFor(x);
        Assert.Equal(6 * 256 * 4, chain.Stages[2].OutputBytes);
        Assert.Same(chain, module.LastPlan!.Chain);
        AssertBitwise(plain, [.. stages.SelectMany(s => s.parameters()).Select(p => p.grad!)], "widened stage");
    }

    [Fact]
    public void A_module_swapped_in_a_list_inside_a_stage_is_measured_again()
    {
        var blocks = new ModuleList<nn.Module<Tensor, Tensor>>(nn.Linear(16, 16), nn.Linear(16, 16));
        var stage = new ListStage(blocks);
        var module = new CheckpointedSequential([stage, nn.Tanh()], new PlanOptions { Strategy = "storeall" });
        var x = Input();
        var before = module.ChainFor(x);
        blocks[1] = nn.Linear(16, 64);
        var after = module.ChainFor(x);
        Assert.NotSame(before, after);
        Assert.Equal(6 * 64 * 4, after.Stages[0].OutputBytes);
    }

    private sealed class ListStage : nn.Module<Tensor, Tensor>
    {
        private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;

        public ListStage(ModuleList<nn.Module<Tensor, Tensor>> blocks) : base(nameof(ListStage))
        {
            this.blocks = blocks;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => blocks.Aggregate(x, (t, b) => b.forward(t));
    }

    /// <summary>A stage that returns the very tensor it was given, as optional parts switched off do.</summary>
    private sealed class PassThrough() : nn.Module<Tensor, Tensor>(nameof(PassThrough))
    {
        public override Tensor forward(Tensor x) => x;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(4)]
    public void A_stage_that_returns_its_input_runs_as_in_the_plain_model(int at)
    {
        random.manual_seed(4);
        var stages = new List<nn.Module<Tensor, Tensor>> { nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh() };
        stages.Insert(at, new PassThrough());
        var x = Input();
        Models.Loss(stages.Aggregate(x, (t, s) => s.forward(t))).backward();
        var plain = Models.Gradients(stages).Append(x.grad!.clone()).ToArray();
        Models.ZeroGrad(stages);
        x.grad!.zero_();
        foreach (var options in new PlanOptions[] { new() { Strategy = "storeall" }, new() { Strategy = "periodic" }, new() { BudgetFraction = 1 } })
        {
            var module = new CheckpointedSequential(stages, options);
            for (int step = 0; step < 2; step++)
            {
                Models.Loss(module.forward(x)).backward();
                AssertBitwise(plain, [.. Models.Gradients(stages), x.grad!], $"pass-through at {at}, {options.Strategy}, step {step}");
                Models.ZeroGrad(stages);
                x.grad!.zero_();
            }
        }
    }

    [Fact]
    public void A_checkpointed_function_that_detaches_gives_the_plain_gradients()
    {
        // PyTorch's non-reentrant checkpoint on a module that runs under no_grad: the loss reaches the input another way.
        var layer = nn.Linear(4, 4);
        var a = randn(2, 4, requires_grad: true);
        Tensor Detaching(Tensor t) => layer.forward(t).detach();
        (Detaching(a) + a).sum().backward();
        var plain = a.grad!.clone();
        a.grad!.zero_();
        var y = Checkpoint.Run(Detaching, a);
        Assert.False(y.requires_grad, "the plain function's output does not require grad");
        (y + a).sum().backward();
        AssertBitwise([plain], [a.grad!], "a detaching function");
        Assert.Null(layer.weight!.grad);
    }

    [Fact]
    public void A_checkpoint_whose_outputs_need_no_gradient_raises_as_the_plain_function()
    {
        // PyTorch's test_checkpoint_partial_grad, second half: the output depends only on an input without grad.
        var a = randn(1, 4);
        var b = randn(1, 4, requires_grad: true);
        var plain = Assert.ThrowsAny<ExternalException>(() => (a * 2).sum().backward());
        var checkpointed = Assert.ThrowsAny<ExternalException>(() => Checkpoint.Run((x, _) => x * 2, a, b).sum().backward());
        Assert.Equal(plain.Message.Split('\n')[0], checkpointed.Message.Split('\n')[0]);
        Assert.Null(b.grad);
    }

    [Fact]
    public void An_input_disposed_by_a_scope_around_the_forward_leaves_the_backward_working()
    {
        var stages = Models.Mlp([16, 24, 24, 8]);
        Tensor Loss(Func<Tensor, Tensor> model)
        {
            using var scope = NewDisposeScope();
            random.manual_seed(3);
            var x = randn(6, 16);
            return Models.Loss(model(x)).MoveToOuterDisposeScope();
        }
        Loss(x => stages.Aggregate(x, (t, s) => s.forward(t))).backward();
        var plain = Models.Gradients(stages);
        Models.ZeroGrad(stages);
        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "periodic", Segments = 2 });
        Loss(module.forward).backward();
        AssertBitwise(plain, Models.Gradients(stages), "input disposed after the forward");
    }

    [Fact]
    public void A_last_stage_that_detaches_gives_an_output_without_grad_as_the_plain_model()
    {
        nn.Module<Tensor, Tensor>[] stages = [nn.Linear(16, 16), nn.Tanh(), new Detach()];
        var x = Input();
        var plain = stages.Aggregate(x, (t, s) => s.forward(t));
        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "storeall" });
        var y = module.forward(x);
        Assert.False(plain.requires_grad);
        Assert.False(y.requires_grad, "the plain model's output needs no gradient, so neither does the checkpointed one's");
        AssertBitwise([plain], [y], "the output");
    }

    private sealed class Detach() : nn.Module<Tensor, Tensor>(nameof(Detach))
    {
        public override Tensor forward(Tensor x) => x.detach();
    }
}
