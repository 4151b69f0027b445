using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The random state before each stage's first run, so that a recomputation draws the same random numbers (dropout
/// masks) as the first run, and the caller's CPU random stream ends where a plain run leaves it.
/// TorchSharp exposes the CPU generator's state but not CUDA's: it only has <c>cuda.manual_seed</c>. So for work on a
/// CUDA device, each first run draws a seed from the CPU generator and seeds the CUDA generator with it, and a
/// recomputation seeds it again with the same seed: the masks match, but the CUDA stream differs from a plain run's
/// and is left where the last replay ends (untested here: no GPU; docs/torchsharp.md).
/// </summary>
internal sealed class RandomStates(int stages, bool cuda) : IDisposable
{
    private readonly Tensor?[] _first = new Tensor?[stages + 1];
    private readonly long[] _cudaSeeds = new long[stages + 1];

    /// <summary>The random states for work on <paramref name="device"/>.</summary>
    public static RandomStates For(int stages, Device device) => new(stages, device.type == DeviceType.CUDA);

    /// <summary>
    /// Enters a run of stage <paramref name="k"/>: its first run records the generator's state; a later one sets that
    /// state and, when disposed, puts back the CPU state it found.
    /// </summary>
    public IDisposable Enter(int k)
    {
        if (_first[k] is not { } state)
        {
            if (cuda)
            {
                _cudaSeeds[k] = randint(0, int.MaxValue, [1], dtype: ScalarType.Int64).item<long>();
                torch.cuda.manual_seed(_cudaSeeds[k]);
            }
            _first[k] = random.get_rng_state().DetachFromDisposeScope();
            return Replay.None;
        }
        var outer = random.get_rng_state().DetachFromDisposeScope();
        random.set_rng_state(state);
        if (cuda)
            torch.cuda.manual_seed(_cudaSeeds[k]);
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
