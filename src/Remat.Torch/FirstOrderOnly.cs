using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// A gradient that a checkpoint returns during a backward with <c>create_graph</c>. Its value is the right first-order
/// gradient, but a reentrant checkpoint computes it on detached copies of its inputs, so its graph does not reach them:
/// a second-order gradient through it would be wrong. So it passes through this function, whose own backward refuses
/// (through <see cref="BackwardGuard"/>): first-order results (<c>autograd.grad(..., create_graph: true)</c>) are exact,
/// and the first use of their graph fails loudly. PyTorch's reentrant checkpoint refuses <c>create_graph</c> outright.
/// </summary>
internal sealed class FirstOrderOnly : autograd.MultiTensorFunction<FirstOrderOnly>
{
    public override string Name => "RematFirstOrderOnly";

    /// <summary>Wraps <paramref name="gradient"/> when the backward builds a graph (grad mode on); otherwise returns it as it is.</summary>
    public static Tensor Wrap(Tensor gradient)
    {
        if (!is_grad_enabled())
            return gradient;
        var sentinel = new Sentinel(gradient.device);
        return apply(sentinel, gradient, sentinel.Input)[0];
    }

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data("sentinel", vars[0]);
        return [((Tensor)vars[1]).alias()];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads) =>
        BackwardGuard.Run("a second-order gradient through a checkpoint", 3, (Sentinel)ctx.get_data("sentinel"), () =>
            throw new RematException("a gradient through a checkpoint was differentiated again (create_graph): a reentrant checkpoint " +
                                     "computes its gradients on detached inputs, so their own gradients would be wrong. " +
                                     "Run that part without checkpointing."));
}
