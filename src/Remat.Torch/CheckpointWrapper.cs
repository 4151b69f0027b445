using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// A module run under function checkpointing (<see cref="Checkpoint.Run(nn.Module{Tensor, Tensor}, Tensor, bool)"/>) in
/// training with grad enabled, and plainly otherwise. <see cref="Checkpointing.Apply"/> puts it in place of the modules
/// it picks. The wrapped module is its child <c>module</c>, so parameter names gain a <c>module.</c> level.
/// </summary>
public sealed class CheckpointWrapper : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> module;
    private readonly bool _preserveRngState;

    /// <summary>Wraps <paramref name="module"/>; <paramref name="preserveRngState"/> as in <see cref="Checkpoint"/>.</summary>
    public CheckpointWrapper(nn.Module<Tensor, Tensor> module, bool preserveRngState = true) : base(nameof(CheckpointWrapper))
    {
        ArgumentNullException.ThrowIfNull(module);
        this.module = module;
        _preserveRngState = preserveRngState;
        RegisterComponents();
    }

    /// <summary>The wrapped module.</summary>
    public nn.Module<Tensor, Tensor> Module => module;

    /// <inheritdoc />
    public override Tensor forward(Tensor input) =>
        training && is_grad_enabled() ? Checkpoint.Run(module, input, _preserveRngState) : module.forward(input);
}

/// <summary>
/// <see cref="CheckpointWrapper"/> for a block that takes side inputs besides the hidden states (an attention mask, or
/// a value tuple of tensors: <see cref="CheckpointedSequential{TSide}"/>): the side inputs are inputs of the checkpoint,
/// so one that requires grad gets its gradient, and a null one reaches the block as null.
/// </summary>
public sealed class CheckpointWrapper<TSide> : nn.Module<Tensor, TSide, Tensor>
{
    private readonly nn.Module<Tensor, TSide, Tensor> module;
    private readonly bool _preserveRngState;

    /// <summary>Wraps <paramref name="module"/>; <paramref name="preserveRngState"/> as in <see cref="Checkpoint"/>.</summary>
    public CheckpointWrapper(nn.Module<Tensor, TSide, Tensor> module, bool preserveRngState = true) : base(nameof(CheckpointWrapper))
    {
        ArgumentNullException.ThrowIfNull(module);
        SideTensors<TSide>.Check();
        this.module = module;
        _preserveRngState = preserveRngState;
        RegisterComponents();
    }

    /// <summary>The wrapped module.</summary>
    public nn.Module<Tensor, TSide, Tensor> Module => module;

    /// <inheritdoc />
    public override Tensor forward(Tensor hidden, TSide side) =>
        training && is_grad_enabled()
            ? Checkpoint.Run(xs => [module.forward(xs[0], SideTensors<TSide>.Join(xs[1..]))], [hidden, .. SideTensors<TSide>.Split(side)!], _preserveRngState, [module])[0]
            : module.forward(hidden, side);
}
