using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The random state before each stage's first run, so that a recomputation draws the same random numbers (dropout
/// masks) as the first run, and the caller's random streams end where a plain run leaves them: the CPU generator's
/// state always, and for work on a CUDA device that device's generator too (its seed and offset,
/// <see cref="CudaGenerator"/>), as PyTorch's checkpoint does with <c>preserve_rng_state</c>.
/// </summary>
internal sealed class RandomStates(int stages, Device device) : IDisposable
{
    private readonly Tensor?[] _first = new Tensor?[stages + 1];
    private readonly (ulong Seed, ulong Offset)[] _cuda = new (ulong, ulong)[stages + 1];
    private readonly int? _cudaDevice = device.type == DeviceType.CUDA ? Math.Max(0, device.index) : null;

    /// <summary>The random states for work on <paramref name="device"/>.</summary>
    public static RandomStates For(int stages, Device device) => new(stages, device);

    /// <summary>
    /// Enters a run of stage <paramref name="k"/>: its first run records the generators' states; a later one sets those
    /// states and, when disposed, puts back the states it found.
    /// </summary>
    public IDisposable Enter(int k)
    {
        if (_first[k] is not { } state)
        {
            if (_cudaDevice is { } first)
                _cuda[k] = CudaGenerator.Get(first);
            _first[k] = random.get_rng_state().DetachFromDisposeScope();
            return Replay.None;
        }
        var outer = new Replay(random.get_rng_state().DetachFromDisposeScope(), _cudaDevice, _cudaDevice is { } d ? CudaGenerator.Get(d) : default);
        random.set_rng_state(state);
        if (_cudaDevice is { } again)
            CudaGenerator.Set(again, _cuda[k]);
        return outer;
    }

    /// <summary>
    /// Takes the generators' states for work on <paramref name="device"/> (the CPU's, and a CUDA device's) and puts them
    /// back when disposed: for work that must leave the caller's random streams as it found them (profiling).
    /// </summary>
    public static IDisposable Preserve(Device device)
    {
        int? cudaDevice = device.type == DeviceType.CUDA ? Math.Max(0, device.index) : null;
        return new Replay(random.get_rng_state().DetachFromDisposeScope(), cudaDevice, cudaDevice is { } d ? CudaGenerator.Get(d) : default);
    }

    /// <summary>Disposes the recorded states.</summary>
    public void Dispose()
    {
        foreach (var s in _first)
            s?.Dispose();
    }

    private sealed class Replay(Tensor? outer, int? cudaDevice, (ulong, ulong) cudaOuter) : IDisposable
    {
        public static readonly Replay None = new(null, null, default);

        public void Dispose()
        {
            if (outer is null)
                return;
            random.set_rng_state(outer);
            outer.Dispose();
            if (cudaDevice is { } d)
                CudaGenerator.Set(d, cudaOuter);
        }
    }
}
