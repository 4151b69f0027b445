using System.Runtime.InteropServices;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Cli;

/// <summary>
/// The device <c>remat train</c> runs on, and what measuring it needs before anything runs there. On the CPU, glibc's
/// settings for the resident set (<see cref="MemoryMeter.Initialize"/>); on CUDA, libtorch's stream-ordered allocator
/// (<c>PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync</c>, set in the environment unless the user set it), whose pool
/// gives exact figures (<see cref="DeviceMemory"/>), then CUDA itself. A model that would not fit is refused first.
/// </summary>
internal static partial class TrainDevice
{
    public static readonly string[] Names = ["cpu", "cuda"];

    /// <summary>The largest memory a model may need on the CPU (the host) and on a CUDA device.</summary>
    public static long MaxModelBytes(string device) => device == "cuda" ? 96L << 30 : 16L << 30;

    /// <summary>The settings that must precede everything else in the process (Program.cs runs it first for train).</summary>
    public static void Prepare(string device)
    {
        if (device == "cpu")
            MemoryMeter.Initialize();
        else if (OperatingSystem.IsLinux() && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PYTORCH_CUDA_ALLOC_CONF")))
            _ = setenv("PYTORCH_CUDA_ALLOC_CONF", "backend:cudaMallocAsync", 0); // the native environment libtorch reads
    }

    /// <summary>Starts <paramref name="device"/> and checks that its memory can be measured.</summary>
    public static Device Open(string device)
    {
        Prepare(device);
        if (device == "cpu")
        {
            _ = DeviceMemory.For(CPU);
            return CPU;
        }
        try
        {
            InitializeDeviceType(DeviceType.CUDA);
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or DllNotFoundException or ExternalException)
        {
            throw new UsageException($"--device cuda: CUDA could not start ({e.Message.Split('\n')[0]}); the remat tool carries TorchSharp's CPU " +
                                     "runtime, so run it with libtorch's CUDA libraries on LD_LIBRARY_PATH (docs/torchsharp.md, \"GPUs\").");
        }
        if (!cuda.is_available())
            throw new UsageException("--device cuda: no CUDA device is available.");
        var cudaDevice = new Device(DeviceType.CUDA, 0);
        try
        {
            _ = DeviceMemory.For(cudaDevice);
        }
        catch (RematException e)
        {
            throw new UsageException($"--device cuda: {e.Message}");
        }
        return cudaDevice;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
