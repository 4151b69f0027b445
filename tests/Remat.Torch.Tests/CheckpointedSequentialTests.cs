using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

public class CheckpointedSequentialTests
{
    private static readonly int[] Widths = [24, 48, 16, 40, 40, 8, 32, 24, 24];

    private static Tensor Input(bool requiresGrad = true)
    {
        random.manual_seed(3);
        return randn(12, Widths[0]).requires_grad_(requiresGrad);
    }

    /// <summary>Plans for the stages: a budget between the smallest and store-all's, and the classic strategies.</summary>
    public static TheoryData<string> Settings => ["budget", "fraction", "periodic", "revolve", "storeall"];

    private static PlanOptions Options(string setting, Chain chain)
    {
        long max = Simulator.Run(chain, new Planners.StoreAll().Plan(chain)).PeakBytes, min = Planners.Optimal.MinimumBudget(chain);
        return setting switch
        {
            "budget" => new PlanOptions { BudgetBytes = min + (max - min) / 3 },
            "fraction" => new PlanOptions { BudgetFraction = Math.Min(1, 1.2 * min / max) },
            "revolve" => new PlanOptions { Strategy = "revolve", Snapshots = 2 },
            _ => new PlanOptions { Strategy = setting },
        };
    }

    private static void AssertBitwise(Tensor[] expected, Tensor[] actual, string what) =>
        Models.AssertBitwise(expected, actual, i => $"{what}: gradient {i} differs from the plain module");

    [Theory]
    [MemberData(nameof(Settings))]
    public void Gradients_and_forward_counts_match_the_plain_module_under_the_callers_own_backward(string setting)
    {
        var stages = Models.Mlp(Widths, dropout: 0.2);
        var x = Input();
        random.manual_seed(9);
        Models.PlainStep(stages, x);
        var plainParams = Models.Gradients(stages);
        var plainInput = x.grad!.clone();
        Models.ZeroGrad(stages);
        x.grad!.zero_();

        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "storeall" });
        module.Options = Options(setting, module.ChainFor(x));
        var plan = module.PlanFor(x);
        foreach (var s in stages)
            s.Calls = 0;
        random.manual_seed(9);
        var loss = Models.Loss(module.forward(x));
        loss.backward();

        AssertBitwise(plainParams, Models.Gradients(stages), setting);
        AssertBitwise([plainInput], [x.grad!], $"{setting}, input");
        Assert.Same(plan, module.LastPlan);
        Assert.Equal(plan.Trace.ForwardsPerStage, stages.Select(s => s.Calls).ToArray());
    }

    [Fact]
    public void Gradients_accumulate_over_several_forward_backward_pairs_and_two_modules_compose()
    {
        var first = Models.Mlp([16, 16, 16, 16], seed: 4);
        var second = Models.Mlp([16, 16, 16, 16], seed: 5);
        var stem = nn.Linear(16, 16);
        random.manual_seed(1);
        var batches = Enumerable.Range(0, 3).Select(_ => randn(8, 16)).ToArray();
        nn.Module[] all = [stem, .. first, .. second];
        foreach (var b in batches)
            Models.PlainStep([stem, .. first, .. second], b);
        var expected = Models.Gradients(all);
        Models.ZeroGrad(all);

        var a = new CheckpointedSequential(first, new PlanOptions { Strategy = "revolve", Snapshots = 1 });
        var c = new CheckpointedSequential(second, new PlanOptions { Strategy = "periodic", Segments = 2 });
        foreach (var b in batches)
            Models.Loss(c.forward(a.forward(stem.forward(b)))).backward();
        AssertBitwise(expected, Models.Gradients(all), "accumulated over three steps");
    }

    [Fact]
    public void A_parameter_used_inside_and_outside_gets_both_contributions()
    {
        var stages = Models.Mlp([16, 16, 16], seed: 6);
        var tied = stages[1];
        var x = randn(8, 16);
        Models.Loss(tied.forward(stages.Aggregate(x, (h, m) => (Tensor)m.forward(h)))).backward();
        var expected = Models.Gradients(stages);
        Models.ZeroGrad(stages);
        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "revolve", Snapshots = 1 });
        Models.Loss(tied.forward(module.forward(x))).backward();
        var got = Models.Gradients(stages);
        // Not bitwise: plain autograd sums the two contributions before adding them to .grad, the checkpoint's
        // backward adds its own after the outer one (the same holds for PyTorch's reentrant checkpoint).
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i].allclose(got[i], rtol: 1e-5, atol: 1e-7), $"gradient {i} of the tied stage misses a contribution");
    }

    [Fact]
    public void A_frozen_input_still_gives_the_parameters_their_gradients()
    {
        var stages = Models.Mlp(Widths);
        var x = Input(requiresGrad: false);
        Models.PlainStep(stages, x);
        var plain = Models.Gradients(stages);
        Models.ZeroGrad(stages);
        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "revolve", Snapshots = 2 });
        var y = module.forward(x);
        Assert.True(y.requires_grad, "the output must require grad so that the backward runs");
        Models.Loss(y).backward();
        AssertBitwise(plain, Models.Gradients(stages), "frozen input");
    }

    [Fact]
    public void Under_no_grad_or_in_eval_it_runs_plainly_and_plans_nothing()
    {
        var stages = Models.Mlp(Widths);
        var module = new CheckpointedSequential(stages, new PlanOptions { BudgetFraction = 0.5 });
        var x = Input();
        var expected = stages.Aggregate(x.detach(), (h, m) => (Tensor)m.forward(h));
        using (no_grad())
            Assert.True(expected.eq(module.forward(x)).all().item<bool>(), "under no_grad the output is the plain one");
        module.eval();
        var y = module.forward(x);
        Assert.True(expected.eq(y).all().item<bool>(), "in eval the output is the plain one");
        Assert.Null(module.LastPlan);
    }

    [Fact]
    public void A_new_input_shape_is_profiled_and_planned_anew()
    {
        var module = new CheckpointedSequential(Models.Mlp(Widths), new PlanOptions { Strategy = "periodic" });
        var small = module.PlanFor(randn(4, Widths[0]));
        var large = module.PlanFor(randn(64, Widths[0]));
        Assert.NotSame(small.Chain!, large.Chain!);
        Assert.Equal(16 * small.Chain!.InputBytes, large.Chain!.InputBytes);
        Assert.Same(small, module.PlanFor(randn(4, Widths[0])));
    }

    [Fact]
    public void A_second_backward_with_retain_graph_recomputes_and_matches_the_plain_module()
    {
        var stages = Models.Mlp(Widths);
        var x = Input();
        var plainLoss = Models.Loss(stages.Aggregate(x, (h, m) => (Tensor)m.forward(h)));
        plainLoss.backward(retain_graph: true);
        plainLoss.backward();
        var plain = Models.Gradients(stages);
        Models.ZeroGrad(stages);
        var loss = Models.Loss(new CheckpointedSequential(stages, new PlanOptions { Strategy = "revolve", Snapshots = 2 }).forward(x));
        loss.backward(retain_graph: true);
        loss.backward();
        AssertBitwise(plain, Models.Gradients(stages), "two backwards");
    }

    [Fact]
    public void The_input_gradient_under_create_graph_is_the_plain_one()
    {
        var stages = Models.Mlp(Widths);
        var x = Input();
        var plain = autograd.grad([Models.Loss(stages.Aggregate(x, (h, m) => (Tensor)m.forward(h)))], [x], create_graph: true)[0].detach().clone();
        var module = new CheckpointedSequential(stages, new PlanOptions { Strategy = "revolve", Snapshots = 2 });
        var got = autograd.grad([Models.Loss(module.forward(x))], [x], create_graph: true)[0];
        AssertBitwise([plain], [got.detach()], "input gradient under create_graph");
    }

    [Fact]
    public void A_stage_that_fails_in_the_backward_is_a_catchable_error()
    {
        var failing = new FailsOnRecompute();
        var module = new CheckpointedSequential([nn.Linear(4, 4), failing, nn.Linear(4, 4)], new PlanOptions { Strategy = "revolve", Snapshots = 1 });
        var x = randn(2, 4, requires_grad: true);
        module.PlanFor(x); // profiling runs the stage many times: arm it after
        failing.Armed = true;
        var loss = module.forward(x).sum();
        var e = Assert.Throws<RematException>(() => Checkpoint.Backward(loss));
        Assert.Contains("the stage was run again", e.Message);
    }

    [Theory]
    [InlineData("storeall")]
    [InlineData("periodic")]
    public void A_first_stage_without_parameters_on_an_input_without_grad_trains_as_the_plain_model(string strategy)
    {
        // nn.Sequential(nn.Flatten(), nn.Linear(...), ...) on raw data, the first model of many: the flatten's record
        // needs no gradient, and the backward must pass over it as the plain step does.
        Sequential Model()
        {
            random.manual_seed(4);
            return nn.Sequential(nn.Flatten(), nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 4));
        }
        random.manual_seed(5);
        var x = randn(6, 2, 4);
        var plain = Model();
        random.manual_seed(9);
        plain.forward(x).pow(2).sum().backward();
        var expected = plain.parameters().Select(p => p.grad!.clone()).ToArray();

        var model = Model();
        var module = new CheckpointedSequential(model, new PlanOptions { Strategy = strategy });
        module.ChainFor(x);
        random.manual_seed(9);
        Checkpoint.Backward(module.forward(x).pow(2).sum());
        AssertBitwise(expected, [.. model.parameters().Select(p => p.grad!)], strategy);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_stage_that_changes_its_input_in_place_is_refused_by_name_at_the_first_forward(bool dropoutFirst)
    {
        // A stage run again from its kept input needs that input unchanged: an in-place dropout at the start of the
        // first stage, on an input without grad, would be applied twice in silence; an in-place ReLU as a stage of its
        // own fails in libtorch with "a leaf Variable that requires grad is being used in an in-place operation".
        var model = dropoutFirst
            ? nn.Sequential(nn.Dropout(0.5, inplace: true), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8))
            : nn.Sequential(nn.Linear(8, 8), nn.ReLU(inplace: true), nn.Linear(8, 8));
        var module = new CheckpointedSequential(model, new PlanOptions { Strategy = "periodic" });
        var e = Assert.Throws<RematException>(() => module.forward(randn(4, 8)));
        Assert.Contains($"stage {(dropoutFirst ? 1 : 2)} ", e.Message);
        Assert.Contains("changes its input in place", e.Message);
    }

    [Fact]
    public void It_takes_a_Sequential_and_its_parameters_are_the_stages()
    {
        var sequential = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8));
        var module = new CheckpointedSequential(sequential, budgetBytes: 1L << 30);
        Assert.Equal(3, module.Stages.Count);
        Assert.Equal(sequential.named_parameters().Select(p => p.name), module.named_parameters().Select(p => p.name)); // saved weights load as they are
        Assert.Throws<RematException>(() => new CheckpointedSequential(sequential, new PlanOptions { Strategy = "fastest" }));
    }

    [Fact]
    public void An_infeasible_budget_names_the_smallest_that_works()
    {
        var module = new CheckpointedSequential(Models.Mlp(Widths), budgetBytes: 1024);
        var e = Assert.Throws<InfeasibleBudgetException>(() => module.forward(Input()));
        Assert.True(e.MinimumBytes > 1024);
        Assert.Contains("smallest budget that works", e.Message);
    }

    /// <summary>A stage that works on its first run and throws when it is run again (a recomputation).</summary>
    private sealed class FailsOnRecompute() : nn.Module<Tensor, Tensor>("fails")
    {
        private int _runs;

        public bool Armed { get; set; }

        public override Tensor forward(Tensor x) =>
            Armed && ++_runs > 1 ? throw new InvalidOperationException("the stage was run again") : x.tanh();
    }
}
