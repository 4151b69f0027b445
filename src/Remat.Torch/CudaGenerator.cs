using System.Runtime.InteropServices;

namespace Remat.Torch;

/// <summary>
/// The state of a CUDA device's default random generator: its seed and its Philox offset, the two numbers PyTorch's
/// <c>torch.cuda.get_rng_state()</c> and <c>set_rng_state()</c> carry. TorchSharp 0.107 exposes only
/// <c>cuda.manual_seed</c>, so they are read and set through libtorch_cuda's C++ entry points
/// (<c>at::cuda::detail::getDefaultCUDAGenerator</c> and <c>at::CUDAGeneratorImpl</c>'s accessors), found by their
/// Itanium names on Linux. Where they are not found, <see cref="Get"/> and <see cref="Set"/> throw, naming the cause.
/// </summary>
internal static unsafe class CudaGenerator
{
    /// <summary>The seed and the offset of device <paramref name="device"/>'s default generator.</summary>
    public static (ulong Seed, ulong Offset) Get(int device)
    {
        var api = Api;
        nint generator = api.Generator(device);
        return (api.Seed(generator), api.Offset(generator));
    }

    /// <summary>Sets device <paramref name="device"/>'s default generator to <paramref name="state"/>.</summary>
    public static void Set(int device, (ulong Seed, ulong Offset) state)
    {
        var api = Api;
        nint generator = api.Generator(device);
        api.SetSeed(generator, state.Seed); // which resets the offset, so the offset comes second
        api.SetOffset(generator, state.Offset);
    }

    private static readonly Lazy<Entries?> Loaded = new(Entries.Load);

    private static Entries Api => Loaded.Value ?? throw new RematException(
        "Remat replays the CUDA generator's state (seed and offset) so that a recomputation draws the first run's dropout masks, " +
        "and reads it through libtorch_cuda's C++ entry points, which it did not find in this process (Linux, libtorch_cuda.so). " +
        "Without them a recomputed dropout would draw another mask: run the checkpointed work on the CPU, or give preserveRngState: " +
        "false to a function that draws no random numbers.");

    private sealed class Entries
    {
        public delegate* unmanaged<sbyte, nint> Default;
        public delegate* unmanaged<nint, ulong> Seed, Offset;
        public delegate* unmanaged<nint, ulong, void> SetSeed, SetOffset;

        /// <summary>The generator's implementation: <c>at::Generator</c> holds only its <c>intrusive_ptr&lt;GeneratorImpl&gt;</c>.</summary>
        public nint Generator(int device) => *(nint*)Default((sbyte)device);

        public static Entries? Load()
        {
            // TorchSharp loads libtorch_cuda when CUDA is initialised; loading it again by its bare name returns that copy.
            if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libtorch_cuda.so", out var library))
                return null;
            nint Export(string name) => NativeLibrary.TryGetExport(library, name, out var address) ? address : 0;
            nint generator = Export("_ZN2at4cuda6detail23getDefaultCUDAGeneratorEa"),
                seed = Export("_ZNK2at17CUDAGeneratorImpl12current_seedEv"),
                offset = Export("_ZNK2at17CUDAGeneratorImpl24philox_offset_per_threadEv"),
                setSeed = Export("_ZN2at17CUDAGeneratorImpl16set_current_seedEm"),
                setOffset = Export("_ZN2at17CUDAGeneratorImpl28set_philox_offset_per_threadEm");
            if (generator == 0 || seed == 0 || offset == 0 || setSeed == 0 || setOffset == 0)
                return null;
            return new Entries
            {
                Default = (delegate* unmanaged<sbyte, nint>)generator,
                Seed = (delegate* unmanaged<nint, ulong>)seed, Offset = (delegate* unmanaged<nint, ulong>)offset,
                SetSeed = (delegate* unmanaged<nint, ulong, void>)setSeed, SetOffset = (delegate* unmanaged<nint, ulong, void>)setOffset,
            };
        }
    }
}
