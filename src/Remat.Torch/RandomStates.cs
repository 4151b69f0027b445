using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The CPU generator's state before each stage's first run, so that a recomputation draws the same random numbers
/// (dropout masks) as the first run, and leaves the caller's random stream where a plain run would.
/// TorchSharp exposes the CPU generator's state but not CUDA's: on a GPU, dropout masks are not replayed (docs/torchsharp.md).
/// </summary>
internal sealed class RandomStates(int stages) : IDisposable
{
    private readonly Tensor?[] _first = new Tensor?[stages + 1];

    /// <summary>
    /// Enters a run of stage <paramref name="k"/>: its first run records the generator's state; a later one sets that
    /// state and, when disposed, puts back the state it found.
    /// </summary>
    public IDisposable Enter(int k)
    {
        if (_first[k] is not { } state)
        {
            _first[k] = random.get_rng_state().DetachFromDisposeScope();
            return Replay.None;
        }
        var outer = random.get_rng_state().DetachFromDisposeScope();
        random.set_rng_state(state);
        return new Replay(outer);
    }

    /// <summary>Disposes the recorded states.</summary>
    public void Dispose()
    {
        foreach (var s in _first)
            s?.Dispose();
    }

    private sealed class Replay(Tensor? outer) : IDisposable
    {
        public static readonly Replay None = new(null);

        public void Dispose()
        {
            if (outer is null)
                return;
            random.set_rng_state(outer);
            outer.Dispose();
        }
    }
}
