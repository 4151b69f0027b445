using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

public class CheckpointTests
{
    private static nn.Module<Tensor, Tensor> Block(int width, double dropout = 0)
    {
        random.manual_seed(1);
        return nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, width), nn.Tanh());
    }

    private static Tensor[] Grads(nn.Module module) => module.parameters().Select(p => p.grad!.clone()).ToArray();

    private static void AssertBitwiseEqual(Tensor[] expected, Tensor[] actual, string what) =>
        Models.AssertBitwise(expected, actual, i => $"{what} {i} differs from the plain run");

    [Fact]
    public void Gradients_of_inputs_and_parameters_equal_the_plain_run_bitwise()
    {
        var block = Block(16);
        random.manual_seed(2);
        var x = randn(8, 16, requires_grad: true);
        block.forward(x).pow(2).sum().backward();
        var plainParams = Grads(block);
        var plainInput = x.grad!.clone();
        block.zero_grad();
        x.grad!.zero_();

        Checkpoint.Run(block, x).pow(2).sum().backward();
        AssertBitwiseEqual(plainParams, Grads(block), "parameter gradient");
        AssertBitwiseEqual([plainInput], [x.grad!], "input gradient");
    }

    [Fact]
    public void Nested_checkpoints_give_the_plain_gradients_and_recompute_the_inner_function_in_each_backward()
    {
        // A checkpoint inside a checkpointed function, with dropout: the outer recomputation runs the inner checkpoint
        // again, whose own backward recomputes it once more (reentrant nesting, as PyTorch's use_reentrant=True).
        var inner = Block(16, dropout: 0.3);
        var outer = nn.Linear(16, 16);
        int innerRuns = 0;
        Tensor Inner(Tensor t)
        {
            innerRuns++;
            return inner.forward(t);
        }
        random.manual_seed(2);
        var x = randn(8, 16, requires_grad: true);
        random.manual_seed(3);
        outer.forward(Inner(x)).pow(2).sum().backward();
        var plainParams = Grads(inner).Concat(Grads(outer)).ToArray();
        var plainInput = x.grad!.clone();
        inner.zero_grad();
        outer.zero_grad();
        x.grad!.zero_();

        innerRuns = 0;
        random.manual_seed(3);
        Checkpoint.Run(t => outer.forward(Checkpoint.Run(Inner, t)), x).pow(2).sum().backward();
        AssertBitwiseEqual(plainParams, [.. Grads(inner), .. Grads(outer)], "parameter gradient");
        AssertBitwiseEqual([plainInput], [x.grad!], "input gradient");
        Assert.True(innerRuns == 3, $"the inner function should run three times (forward, the outer recomputation, its own), ran {innerRuns}");
    }

    [Fact]
    public void A_function_that_returns_its_input_or_a_view_of_it_passes_the_gradient_through()
    {
        var a = randn(4, 8, requires_grad: true);
        (Checkpoint.Run(t => t, a) * 3).sum().backward();
        Assert.True(a.grad!.eq(3).all().item<bool>(), "an identity checkpoint passes 3 through");
        var b = randn(4, 8, requires_grad: true);
        (Checkpoint.Run(t => t.view(32), b) * 5).sum().backward();
        Assert.True(b.grad!.eq(5).all().item<bool>(), "a view checkpoint passes 5 through");
    }

    /// <summary>The parameter gradients of a dropout block, run plainly and then checkpointed, from the same seed.</summary>
    private static (Tensor[] Plain, Tensor[] Checkpointed) DropoutGradients(bool preserveRngState)
    {
        var block = Block(32, dropout: 0.5);
        var x = randn(8, 32, requires_grad: true);
        random.manual_seed(7);
        block.forward(x).sum().backward();
        var plain = Grads(block);
        block.zero_grad();
        random.manual_seed(7);
        Checkpoint.Run(block.forward, x, preserveRngState).sum().backward();
        return (plain, Grads(block));
    }

    [Fact]
    public void Dropout_draws_the_same_mask_in_the_recomputation()
    {
        var (plain, checkpointed) = DropoutGradients(preserveRngState: true);
        AssertBitwiseEqual(plain, checkpointed, "parameter gradient with dropout");
    }

    [Fact]
    public void Without_preserving_the_random_state_dropout_masks_differ()
    {
        var (plain, checkpointed) = DropoutGradients(preserveRngState: false);
        Assert.False(plain[0].eq(checkpointed[0]).all().item<bool>(), "the control: a fresh mask must change the gradient");
    }

    [Fact]
    public void Parameters_get_gradients_when_no_input_requires_grad()
    {
        var block = Block(16);
        var frozen = randn(4, 16); // e.g. the output of a frozen embedding
        block.forward(frozen).sum().backward();
        var plain = Grads(block);
        block.zero_grad();

        var y = Checkpoint.Run(block.forward, frozen);
        Assert.True(y.requires_grad, "the checkpoint's output must require grad so that its backward runs");
        y.sum().backward();
        AssertBitwiseEqual(plain, Grads(block), "parameter gradient with a frozen input");
    }

    [Fact]
    public void Several_inputs_and_outputs_and_a_closure_argument_work()
    {
        var a = randn(5, requires_grad: true);
        var b = randn(5, requires_grad: true);
        double scale = 3; // a non-tensor argument, by closure
        Tensor[] F(Tensor[] xs) => [xs[0] * xs[1] * scale, (xs[0] + xs[1]).sin()];
        var plain = F([a, b]);
        (plain[0].sum() + plain[1].sum()).backward();
        Tensor ga = a.grad!.clone(), gb = b.grad!.clone();
        a.grad!.zero_();
        b.grad!.zero_();

        var outs = Checkpoint.Run(F, [a, b]);
        Assert.Equal(2, outs.Length);
        (outs[0].sum() + outs[1].sum()).backward();
        AssertBitwiseEqual([ga, gb], [a.grad!, b.grad!], "input gradient");
    }

    [Fact]
    public void A_null_input_reaches_the_function_and_a_null_output_comes_back_as_PyTorchs_None()
    {
        // DeepSpeed's test_ckpt_arg_none and PyTorch's test_checkpoint_non_tensor_inputs_outputs: None among the
        // arguments and among the outputs.
        var a = randn(5, requires_grad: true);
        var b = randn(5, requires_grad: true);
        Tensor[] F(Tensor[] xs)
        {
            Assert.Null(xs[1]);
            return [xs[0] * xs[2], null!, (xs[0] + xs[2]).sin()];
        }
        var plain = F([a, null!, b]);
        (plain[0].sum() + plain[2].sum()).backward();
        Tensor ga = a.grad!.clone(), gb = b.grad!.clone();
        a.grad!.zero_();
        b.grad!.zero_();

        var outs = Checkpoint.Run(F, [a, null!, b]);
        Assert.Equal(3, outs.Length);
        Assert.Null(outs[1]);
        (outs[0].sum() + outs[2].sum()).backward();
        AssertBitwiseEqual([ga, gb], [a.grad!, b.grad!], "input gradient");
    }

    [Fact]
    public void A_recomputation_that_returns_other_outputs_than_the_first_run_is_a_catchable_error()
    {
        var a = randn(5, requires_grad: true);
        int runs = 0;
        var outs = Checkpoint.Run(xs => ++runs == 1 ? [xs[0] * 2, xs[0] * 3] : [xs[0] * 2, null!], [a]);
        var error = Assert.Throws<RematException>(() => Checkpoint.Backward((outs[0] + outs[1]).sum()));
        Assert.Contains("the function must return the same outputs every time", error.Message);
    }

    [Fact]
    public void An_input_that_requires_grad_but_is_unused_gets_no_gradient()
    {
        // PyTorch's test_checkpoint_partial_grad, first half: outputs that pass inputs through, one without grad.
        var a = randn(1, 4, requires_grad: true);
        var b = randn(1, 4);
        var outs = Checkpoint.Run(xs => [xs[0], xs[1]], [a, b]);
        outs[0].sum().backward();
        Assert.Equal(new float[] { 1, 1, 1, 1 }, a.grad!.data<float>().ToArray());

        // Two inputs that require grad, the function uses one: the other's .grad stays null, as in PyTorch.
        var used = randn(4, requires_grad: true);
        var unused = randn(4, requires_grad: true);
        Checkpoint.Run((x, _) => x.sin(), used, unused).sum().backward();
        Assert.True(used.grad is not null && used.grad.allclose(used.detach().cos()), "the used input's gradient is cos(x)");
        Assert.Null(unused.grad);
    }

    [Fact]
    public void A_function_of_no_parameter_on_inputs_without_grad_gives_no_gradient_and_no_error()
    {
        // checkpoint(flatten, raw_input) in front of a layer: PyTorch's checkpoint never reaches its backward here, and
        // the layer after it gets its gradients; so must Remat's, whose sentinel always reaches it.
        var layer = nn.Linear(8, 3);
        var x = randn(4, 2, 4);
        layer.forward(x.flatten(1)).pow(2).sum().backward();
        var plain = Grads(layer);
        layer.zero_grad();
        Checkpoint.Backward(layer.forward(Checkpoint.Run(t => t.flatten(1), x)).pow(2).sum());
        AssertBitwiseEqual(plain, Grads(layer), "parameter gradient");
    }

    [Fact]
    public void Plain_backward_also_throws_when_a_checkpoint_fails()
    {
        var x = randn(3, requires_grad: true);
        int calls = 0;
        var loss = Checkpoint.Run(t => ++calls == 2 ? throw new InvalidOperationException("the recomputation broke") : t * 2, x).sum();
        var messages = new List<string>();
        void Listen(string m) => messages.Add(m);
        Checkpoint.Warning += Listen;
        try
        {
            var e = Assert.ThrowsAny<Exception>(() => loss.backward());
            Assert.Contains("invalid gradient", e.Message);
        }
        finally
        {
            Checkpoint.Warning -= Listen;
        }
        Assert.Contains(messages, m => m.Contains("the recomputation broke"));
    }

    [Fact]
    public void An_exception_in_the_recomputation_reaches_the_caller_of_backward()
    {
        var x = randn(4, requires_grad: true);
        int calls = 0;
        Tensor Fails(Tensor t) => ++calls == 2 ? throw new InvalidOperationException("the recomputation broke") : t.exp();
        var loss = Checkpoint.Run(Fails, x).sum();
        var e = Assert.Throws<RematException>(() => Checkpoint.Backward(loss));
        Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.Contains("the recomputation broke", e.Message);

        // The process lives on and the next step works.
        x.grad?.zero_();
        Checkpoint.Backward(Checkpoint.Run(t => t.exp(), x).sum());
        Assert.True(x.grad!.allclose(x.detach().exp()), "the next backward gives exp(x)");
    }

    [Fact]
    public void An_input_changed_in_place_after_the_forward_is_refused_at_backward()
    {
        var w = randn(4, requires_grad: true);
        var x = randn(4);
        var loss = Checkpoint.Run((a, b) => a * b, w, x).sum();
        x.add_(1); // the recomputation would see other values than the forward did
        var e = Assert.Throws<RematException>(() => Checkpoint.Backward(loss));
        Assert.Contains("inplace", e.Message);
    }

    [Fact]
    public void First_order_gradients_with_create_graph_are_exact_and_a_second_order_one_is_refused()
    {
        // PyTorch's test_checkpoint_valid: autograd.grad(..., create_graph: true) through the checkpointed model gives
        // the plain gradients. A reentrant checkpoint cannot give their own gradients: differentiating them again fails.
        var block = Block(8);
        var x = randn(4, 8, requires_grad: true);
        var plain = autograd.grad([block.forward(x).pow(2).sum()], [x], create_graph: true)[0].detach().clone();
        var got = autograd.grad([Checkpoint.Run(block.forward, x).pow(2).sum()], [x], create_graph: true)[0];
        AssertBitwiseEqual([plain], [got.detach()], "input gradient under create_graph");
        var e = Assert.Throws<RematException>(() => BackwardGuardSurface(() => got.pow(2).sum().backward()));
        Assert.Contains("differentiated again", e.Message);
    }

    /// <summary>Runs a backward as <see cref="Checkpoint.Backward"/> does, for an autograd call of another shape.</summary>
    private static void BackwardGuardSurface(Action backward) => BackwardGuard.Surface(backward);

    [Fact]
    public void A_function_of_no_tensor_input_still_gives_its_parameters_gradients()
    {
        var w = randn(3, requires_grad: true);
        Checkpoint.Run(_ => [w.sin()], []).Single().sum().backward();
        Assert.True(w.grad!.allclose(w.detach().cos()), "the parameter's gradient is cos(w)");
    }

    [Fact]
    public void Repeated_backwards_with_retain_graph_accumulate_the_right_gradients()
    {
        // As PyTorch's reentrant checkpoint: each backward recomputes, so three backwards give three times the gradient.
        var block = Block(8);
        var x = randn(4, 8, requires_grad: true);
        var plainLoss = block.forward(x).pow(2).sum();
        for (int i = 0; i < 3; i++)
            plainLoss.backward(retain_graph: i < 2);
        var plainParams = Grads(block);
        var plainInput = x.grad!.clone();
        block.zero_grad();
        x.grad!.zero_();

        var loss = Checkpoint.Run(block.forward, x).pow(2).sum();
        for (int i = 0; i < 3; i++)
            loss.backward(retain_graph: i < 2);
        AssertBitwiseEqual(plainParams, Grads(block), "parameter gradient after three backwards");
        AssertBitwiseEqual([plainInput], [x.grad!], "input gradient after three backwards");
    }

    [Fact]
    public void A_boolean_mask_input_and_an_integer_output_pass_through()
    {
        // As DeepSpeed's test_ckpt_mask_input and its non-float outputs: inputs and outputs that cannot require grad.
        var x = randn(6, requires_grad: true);
        var mask = x.detach() > 0;
        Tensor[] F(Tensor[] xs) => [(xs[0] * xs[1]).exp(), xs[0].argmax()];
        var plain = F([x, mask]);
        plain[0].sum().backward();
        var expected = x.grad!.clone();
        x.grad!.zero_();
        var outs = Checkpoint.Run(F, [x, mask]);
        Assert.Equal(ScalarType.Int64, outs[1].dtype);
        Assert.False(outs[1].requires_grad, "an integer output cannot require grad");
        Assert.Equal(plain[1].item<long>(), outs[1].item<long>());
        outs[0].sum().backward();
        AssertBitwiseEqual([expected], [x.grad!], "input gradient with a mask");
    }

    [Fact]
    public void Under_no_grad_the_function_simply_runs()
    {
        using var _ = no_grad();
        var y = Checkpoint.Run(t => t + 1, ones(2));
        Assert.False(y.requires_grad);
        Assert.Equal([2f, 2f], y.data<float>().ToArray());
    }
}
