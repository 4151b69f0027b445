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

    private static void AssertBitwiseEqual(Tensor[] expected, Tensor[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i].shape.SequenceEqual(actual[i].shape) && expected[i].eq(actual[i]).all().item<bool>(), $"{what} {i} differs from the plain run");
    }

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

        Checkpoint.Run(block.forward, x).pow(2).sum().backward();
        AssertBitwiseEqual(plainParams, Grads(block), "parameter gradient");
        AssertBitwiseEqual([plainInput], [x.grad!], "input gradient");
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
    public void Checkpointing_a_function_where_nothing_requires_grad_says_so()
    {
        var messages = new List<string>();
        void Listen(string m) => messages.Add(m);
        Checkpoint.Warning += Listen;
        try
        {
            var x = randn(3);
            var y = Checkpoint.Run(t => t * 2, x);
            y.sum().backward();
        }
        finally
        {
            Checkpoint.Warning -= Listen;
        }
        Assert.Contains(messages, m => m.Contains("nothing in the checkpointed function requires grad"));
    }

    [Fact]
    public void A_second_backward_through_a_checkpoint_says_it_is_not_supported()
    {
        var messages = new List<string>();
        void Listen(string m) => messages.Add(m);
        var x = randn(3, requires_grad: true);
        var loss = Checkpoint.Run(t => t.sin(), x).sum() * 2;
        loss.backward(retain_graph: true);
        Checkpoint.Warning += Listen;
        try
        {
            loss.backward();
        }
        finally
        {
            Checkpoint.Warning -= Listen;
        }
        Assert.Contains(messages, m => m.Contains("second backward"));
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
