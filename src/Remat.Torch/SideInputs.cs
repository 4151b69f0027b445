using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The extra inputs of blocks that take more than the hidden states (an attention mask, rotary tables, position ids),
/// which flow unchanged to every block of a checkpointed sequence. <see cref="Values"/> are the copies of the run under
/// way (detached, requiring grad where the caller's do, so that each block's backward adds to their gradients); the
/// run sets them before each of its halves, and its blocks read them (<see cref="SideInputStage"/>).
/// </summary>
internal sealed class SideInputs
{
    /// <summary>The side inputs of the run under way, nulls in their places.</summary>
    public Tensor?[] Values { get; set; } = [];
}

/// <summary>A block that takes side inputs, as a stage of one input: it reads the side inputs of the run under way.</summary>
internal sealed class SideInputStage : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module block;
    private readonly Func<Tensor, Tensor?[], Tensor> _forward;
    private readonly SideInputs _side;

    /// <summary>The stage that runs <paramref name="forward"/> (the block's) on its input and <paramref name="side"/>'s values.</summary>
    public SideInputStage(nn.Module block, Func<Tensor, Tensor?[], Tensor> forward, SideInputs side) : base(block.GetName())
    {
        this.block = block;
        _forward = forward;
        _side = side;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => _forward(x, _side.Values);
}
