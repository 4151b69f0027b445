using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The extra input of each of Remat's autograd functions: an empty tensor that requires grad, so that the function's
/// backward runs even when no other input requires grad (frozen layers in front, LoRA), and where a failed backward
/// returns its refused gradient (<see cref="BackwardGuard"/>).
/// <para>
/// It is also how a function learns that its graph was freed. libtorch frees a graph's saved tensors after a backward
/// without <c>retain_graph</c>, and a second backward through it then raises "Trying to backward through the graph a
/// second time". A TorchSharp function keeps what it saved, so it would run again and add its gradients a second time
/// in silence. So the sentinel is the product of a leaf and a saved scalar, a native node whose saved tensor libtorch
/// frees with the rest of the graph; a function's later backward asks <see cref="GraphFreed"/> first and, when it was
/// freed, gives no gradient, and libtorch raises its own error at that node, as for the plain graph.
/// </para>
/// </summary>
internal sealed class Sentinel
{
    private readonly Tensor _leaf;
    private int _backwards;

    /// <summary>A sentinel on <paramref name="device"/>.</summary>
    public Sentinel(Device device)
    {
        using var scope = NewDisposeScope();
        _leaf = empty(0, requires_grad: true, device: device).DetachFromDisposeScope();
        using var one = ones([], device: device);
        Input = _leaf.mul(one).DetachFromDisposeScope();
    }

    /// <summary>What the function takes as its last input.</summary>
    public Tensor Input { get; }

    /// <summary>
    /// False at the function's first backward; at a later one, whether a backward without <c>retain_graph</c> freed the
    /// graph since, which it tells by back-propagating through the sentinel's own node (cheap: it is empty).
    /// </summary>
    public bool GraphFreed()
    {
        if (Interlocked.Increment(ref _backwards) == 1)
            return false;
        try
        {
            using var scope = NewDisposeScope();
            Input.backward([zeros(0, device: Input.device)], retain_graph: true); // into the leaf's own (empty) .grad
            return false;
        }
        catch (ExternalException)
        {
            return true;
        }
    }
}
