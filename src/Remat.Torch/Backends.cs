using System.Runtime.InteropServices;

namespace Remat.Torch;

/// <summary>
/// libtorch's switches for its CPU convolution libraries, which TorchSharp 0.107 does not expose: PyTorch's
/// <c>torch.backends.mkldnn.enabled</c> (oneDNN, formerly MKL-DNN) and <c>torch.backends.nnpack.enabled</c>. Both are
/// on by default. With both off, libtorch's convolutions run its own kernels, which compute the gradients that oneDNN gets
/// wrong for some shapes on some CPUs (docs/torchsharp.md, "A libtorch fault"), and a training step of convolutions
/// took 2.5 to 23 times as long here (docs/benchmarks.md). Turn NNPACK off with oneDNN: with oneDNN off, libtorch tries
/// NNPACK and, on CPUs it does not support, warns on every convolution. The switches are libtorch's process-wide
/// <c>at::Context</c>, read and set through its C++ entry points, so they work where those have the Itanium names:
/// Linux and macOS (<see cref="IsSupported"/>).
/// </summary>
public static unsafe class Backends
{
    /// <summary>Whether libtorch's convolutions may use oneDNN (PyTorch's <c>torch.backends.mkldnn.enabled</c>).</summary>
    /// <exception cref="PlatformNotSupportedException">The platform is not Linux or macOS (<see cref="IsSupported"/>).</exception>
    public static bool Mkldnn
    {
        get => Context.GetMkldnn(Context.Global()) != 0;
        set => Context.SetMkldnn(Context.Global(), value ? (byte)1 : (byte)0);
    }

    /// <summary>Whether libtorch's convolutions may use NNPACK (PyTorch's <c>torch.backends.nnpack.enabled</c>).</summary>
    /// <exception cref="PlatformNotSupportedException">The platform is not Linux or macOS (<see cref="IsSupported"/>).</exception>
    public static bool Nnpack
    {
        get => Context.GetNnpack(Context.Global()) != 0;
        set => Context.SetNnpack(Context.Global(), value ? (byte)1 : (byte)0);
    }

    /// <summary>
    /// Turns oneDNN and NNPACK off until disposed, then puts both back as they were: libtorch's own kernels for a block
    /// of code, as <c>with torch.backends.mkldnn.flags(enabled=False)</c> in PyTorch.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">The platform is not Linux or macOS (<see cref="IsSupported"/>).</exception>
    public static IDisposable OwnKernels()
    {
        var restore = new Restore(Mkldnn, Nnpack);
        Mkldnn = false;
        Nnpack = false;
        return restore;
    }

    private sealed record Restore(bool Mkldnn, bool Nnpack) : IDisposable
    {
        public void Dispose()
        {
            Backends.Mkldnn = Mkldnn;
            Backends.Nnpack = Nnpack;
        }
    }

    /// <summary>True where the switches can be read and set: Linux and macOS, with libtorch's CPU library found.</summary>
    public static bool IsSupported => Loaded.Value is not null;

    private static readonly Lazy<Entries?> Loaded = new(Entries.Load);

    private static Entries Context => Loaded.Value ?? throw new PlatformNotSupportedException(
        "libtorch's backend switches are reached through its C++ entry points, which Remat finds on Linux and macOS only; " +
        "on this platform, leave oneDNN on and give convolutions shapes it gets right (docs/torchsharp.md, \"A libtorch fault\").");

    /// <summary>libtorch's <c>at::globalContext()</c> and the getters and setters of the two switches on it.</summary>
    private sealed class Entries
    {
        public delegate* unmanaged<nint> Global;
        public delegate* unmanaged<nint, byte> GetMkldnn, GetNnpack;
        public delegate* unmanaged<nint, byte, void> SetMkldnn, SetNnpack;

        public static Entries? Load()
        {
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
                return null;
            // TorchSharp loads libtorch on its first use; loading it again by its bare name returns that copy.
            _ = TorchSharp.torch.get_num_threads();
            if (!NativeLibrary.TryLoad(OperatingSystem.IsLinux() ? "libtorch_cpu.so" : "libtorch_cpu.dylib", out var library))
                return null;
            nint Export(string name) => NativeLibrary.TryGetExport(library, name, out var address) ? address : 0;
            nint global = Export("_ZN2at13globalContextEv"),
                getMkldnn = Export("_ZNK2at7Context17userEnabledMkldnnEv"), setMkldnn = Export("_ZN2at7Context20setUserEnabledMkldnnEb"),
                getNnpack = Export("_ZNK2at7Context17userEnabledNNPACKEv"), setNnpack = Export("_ZN2at7Context20setUserEnabledNNPACKEb");
            if (global == 0 || getMkldnn == 0 || setMkldnn == 0 || getNnpack == 0 || setNnpack == 0)
                return null;
            return new Entries
            {
                Global = (delegate* unmanaged<nint>)global,
                GetMkldnn = (delegate* unmanaged<nint, byte>)getMkldnn, SetMkldnn = (delegate* unmanaged<nint, byte, void>)setMkldnn,
                GetNnpack = (delegate* unmanaged<nint, byte>)getNnpack, SetNnpack = (delegate* unmanaged<nint, byte, void>)setNnpack,
            };
        }
    }
}
