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
