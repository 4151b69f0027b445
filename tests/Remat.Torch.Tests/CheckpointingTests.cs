using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

public class CheckpointingTests
{
    /// <summary>A small transformer-like model: a stem, blocks in a module list, and a head held in a field.</summary>
    private sealed class Net : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> stem, head;
        private readonly ModuleList<nn.Module<Tensor, Tensor>> blocks;

        public Net(int n) : base("net")
        {
            random.manual_seed(2);
            stem = nn.Linear(8, 16);
            blocks = new ModuleList<nn.Module<Tensor, Tensor>>([.. Enumerable.Range(0, n).Select(_ =>
                (nn.Module<Tensor, Tensor>)new Counting(nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.3), nn.Tanh())))]);
            head = nn.Linear(16, 1);
            RegisterComponents();
        }

        public ModuleList<nn.Module<Tensor, Tensor>> Blocks => blocks;

        public override Tensor forward(Tensor x) => head.forward(blocks.Aggregate(stem.forward(x), (h, b) => b.forward(h)));
    }

    private static Tensor[] Step(Net net, Tensor x)
    {
        net.zero_grad();
        random.manual_seed(5);
        net.forward(x).pow(2).sum().backward();
        return [.. net.parameters().Select(p => p.grad!.clone())];
    }

    [Fact]
    public void Blocks_picked_by_type_run_checkpointed_with_the_plain_gradients()
    {
        var net = new Net(4);
        var x = randn(6, 8);
        var plain = Step(net, x);
        Assert.Equal(4, Checkpointing.Apply<Counting>(net));
        Assert.All(net.Blocks, b => Assert.IsType<CheckpointWrapper>(b));
        var named = net.named_modules().ToDictionary(p => p.Item1, p => p.Item2);
        Assert.IsType<CheckpointWrapper>(named["blocks.0"]); // so train(), eval() and state_dict() see the wrapper
        Assert.IsType<Counting>(named["blocks.0.module"]);
        net.eval();
        Assert.False(named["blocks.0"].training, "eval() reaches the wrapper");
        net.train();
        foreach (var b in net.Blocks)
            ((Counting)((CheckpointWrapper)b).Module).Calls = 0;
        var got = Step(net, x);
        for (int i = 0; i < plain.Length; i++)
            Assert.True(plain[i].eq(got[i]).all().item<bool>(), $"gradient {i} differs once the blocks are checkpointed");
        // Each block ran twice: once in the forward, once recomputed in the backward.
        Assert.All(net.Blocks, b => Assert.Equal(2, ((Counting)((CheckpointWrapper)b).Module).Calls));
        Assert.Equal(0, Checkpointing.Apply<Counting>(net)); // applying it again changes nothing
    }

    [Fact]
    public void Every_nth_layer_and_a_name_predicate_pick_the_modules_as_asked()
    {
        var net = new Net(5);
        Assert.Equal(3, Checkpointing.Apply(net, (name, _) => name.StartsWith("blocks.", StringComparison.Ordinal) && !name.Contains(".inner"), everyNth: 2));
        Assert.Equal([true, false, true, false, true], net.Blocks.Select(b => b is CheckpointWrapper).ToArray());
    }

    [Fact]
    public void A_predicate_that_also_matches_inside_the_blocks_wraps_the_blocks_only()
    {
        // The guide's example: everything under "blocks." matches, the modules inside each block too; those run under
        // the block's checkpoint already, so they are neither wrapped nor refused.
        var net = new Net(4);
        Assert.Equal(2, Checkpointing.Apply(net, (name, _) => name.StartsWith("blocks.", StringComparison.Ordinal), everyNth: 2));
        Assert.Equal([true, false, true, false], net.Blocks.Select(b => b is CheckpointWrapper).ToArray());
    }

    [Fact]
    public void A_module_held_in_a_field_is_refused_by_name_not_skipped()
    {
        var net = new Net(2);
        var e = Assert.Throws<RematException>(() => Checkpointing.Apply(net, (name, _) => name == "head"));
        Assert.Contains("'head'", e.Message);
        Assert.DoesNotContain(net.Blocks, b => b is CheckpointWrapper);
    }
}
