using TorchSharp;
using static TorchSharp.torch;

// One CUDA device and libtorch's global generators: the tests run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Remat.Gpu.Tests;

/// <summary>The CUDA device the tests run on, or a skip with the reason where there is none (CI).</summary>
internal static class Gpu
{
    private static readonly Lazy<string?> Missing = new(() =>
    {
        try
        {
            InitializeDeviceType(DeviceType.CUDA);
            return cuda.is_available() ? null : "no CUDA device is available";
        }
        catch (Exception e)
        {
            return $"CUDA did not start ({e.Message.Split('\n')[0]})";
        }
    });

    /// <summary>cuda:0, or the test is skipped.</summary>
    public static Device Device
    {
        get
        {
            if (Missing.Value is { } why)
                Assert.Skip($"{why}: these tests run on a GPU machine (bench/gpu/run.sh); CI has none.");
            return new Device(DeviceType.CUDA, 0);
        }
    }

    /// <summary>True in a child process that a test started to run one test in a fresh process.</summary>
    public static bool IsChild => Environment.GetEnvironmentVariable("REMAT_GPU_CHILD") == "1";

    /// <summary>Seeds the CPU and the CUDA generators.</summary>
    public static void Seed(long seed)
    {
        random.manual_seed(seed);
        cuda.manual_seed(seed);
    }
}
