using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The side inputs of a block as tensors: <typeparamref name="TSide"/> is one tensor (an attention mask), or a value
/// tuple of tensors for several (<c>(Tensor Cos, Tensor Sin)</c>, <c>(Tensor Mask, Tensor Positions)</c>); any of
/// them may be null.
/// </summary>
internal static class SideTensors<TSide>
{
    /// <summary>How many tensors a <typeparamref name="TSide"/> holds; refuses any other type, naming it.</summary>
    public static readonly int Count = typeof(TSide) == typeof(Tensor) ? 1
        : typeof(ITuple).IsAssignableFrom(typeof(TSide)) && typeof(TSide).IsValueType && typeof(TSide).GetGenericArguments().All(t => t == typeof(Tensor))
            ? typeof(TSide).GetGenericArguments().Length
            : -1;

    /// <summary>Throws where <typeparamref name="TSide"/> is neither a tensor nor a value tuple of tensors.</summary>
    public static void Check()
    {
        if (Count < 0)
            throw new ArgumentException($"the blocks' side inputs are a {typeof(TSide).Name}; give a Tensor, or a value tuple of Tensors for several.");
    }

    /// <summary>The tensors of <paramref name="side"/>, nulls in their places.</summary>
    public static Tensor?[] Split(TSide side) => side switch
    {
        null => new Tensor?[Count],
        Tensor t => [t],
        ITuple tuple => [.. Enumerable.Range(0, tuple.Length).Select(i => (Tensor?)tuple[i])],
        _ => throw new ArgumentException($"side inputs of type {side.GetType().Name} are not tensors."),
    };

    /// <summary>The <typeparamref name="TSide"/> of <paramref name="values"/>.</summary>
    public static TSide Join(Tensor?[] values) =>
        typeof(TSide) == typeof(Tensor) ? (TSide)(object?)values[0]! : (TSide)Activator.CreateInstance(typeof(TSide), values)!;
}
