using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// A CUDA device's memory, exactly: the bytes in use in the device's default memory pool and their high-water mark,
/// read through the CUDA runtime (<c>cudaMemPoolGetAttribute</c> with <c>cudaMemPoolAttrUsedMemCurrent</c> and
/// <c>UsedMemHigh</c>, reset by setting the latter). libtorch allocates from that pool when it runs on CUDA's
/// stream-ordered allocator, chosen by <c>PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync</c> in the environment before
/// CUDA starts. Its default caching allocator takes its memory outside the pool, and TorchSharp 0.107 exposes none of
/// its statistics; so <see cref="Open"/> checks that a new tensor shows in the pool, and refuses with that fix when it
/// does not. The runtime library is the one libtorch loaded (<c>libcudart.so</c>), or the file <c>CUDART</c> names.
/// </summary>
internal sealed unsafe class CudaMemory : DeviceMemory
{
    private const int UsedMemCurrent = 7, UsedMemHigh = 8; // cudaMemPoolAttr

    private static readonly Lazy<Runtime?> Loaded = new(Runtime.Load);
    private static readonly Dictionary<int, CudaMemory> Opened = [];

    private readonly Runtime _cuda;
    private readonly nint _pool;
    private readonly int _device;

    private CudaMemory(Runtime cuda, nint pool, int device)
    {
        _cuda = cuda;
        _pool = pool;
        _device = device;
    }

    /// <summary>The memory of CUDA device <paramref name="device"/>, once checked to be measurable.</summary>
    public static CudaMemory Open(Device device)
    {
        int index = Math.Max(0, device.index);
        lock (Opened)
        {
            if (Opened.TryGetValue(index, out var opened))
                return opened;
            var cuda = Loaded.Value ?? throw new RematException(
                "Remat reads CUDA memory through the CUDA runtime (libcudart.so), which it did not find: put its folder on LD_LIBRARY_PATH, " +
                "or set CUDART to its path.");
            nint pool;
            Check(cuda.DefaultMemPool(&pool, index), "cudaDeviceGetDefaultMemPool");
            var memory = new CudaMemory(cuda, pool, index);
            long before = memory.Current();
            using (var probe = empty(1 << 18, dtype: ScalarType.Float32, device: device)) // 1 MiB
                if (memory.Current() - before < 1 << 20)
                    throw new RematException(
                        $"libtorch allocates on {device} with its caching allocator, whose figures TorchSharp does not expose, so Remat cannot measure " +
                        "what a stage keeps. Start the process with PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync in its environment (read when CUDA " +
                        "starts), and Remat reads exact figures from CUDA's memory pool; or plan by a strategy with its settings " +
                        "(PlanOptions.Strategy, Segments, Snapshots), which needs no measured sizes.");
            Opened[index] = memory;
            return memory;
        }
    }

    public override string Source => $"CUDA memory pool of cuda:{_device}";

    public override long Current() => Read(UsedMemCurrent);

    public override long Peak() => Read(UsedMemHigh);

    public override void ResetPeak()
    {
        ulong zero = 0; // the high-water mark can only be reset to 0, which starts it again at the bytes in use
        Check(_cuda.SetAttribute(_pool, UsedMemHigh, &zero), "cudaMemPoolSetAttribute");
    }

    public override void Synchronize() => cuda.synchronize(new Device(DeviceType.CUDA, _device));

    private long Read(int attribute)
    {
        ulong value;
        Check(_cuda.GetAttribute(_pool, attribute, &value), "cudaMemPoolGetAttribute");
        return (long)value;
    }

    private static void Check(int error, string call)
    {
        if (error != 0)
            throw new RematException($"{call} failed with CUDA error {error}.");
    }

    /// <summary>The three entry points of the CUDA runtime's C API that the pool needs.</summary>
    private sealed class Runtime
    {
        public delegate* unmanaged<nint*, int, int> DefaultMemPool;
        public delegate* unmanaged<nint, int, ulong*, int> GetAttribute, SetAttribute;

        public static Runtime? Load()
        {
            string?[] names = [Environment.GetEnvironmentVariable("CUDART"), "libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"];
            foreach (var name in names.Where(n => !string.IsNullOrEmpty(n)))
            {
                if (!NativeLibrary.TryLoad(name!, out var library))
                    continue;
                if (NativeLibrary.TryGetExport(library, "cudaDeviceGetDefaultMemPool", out var pool)
                    && NativeLibrary.TryGetExport(library, "cudaMemPoolGetAttribute", out var get)
                    && NativeLibrary.TryGetExport(library, "cudaMemPoolSetAttribute", out var set))
                    return new Runtime
                    {
                        DefaultMemPool = (delegate* unmanaged<nint*, int, int>)pool,
                        GetAttribute = (delegate* unmanaged<nint, int, ulong*, int>)get,
                        SetAttribute = (delegate* unmanaged<nint, int, ulong*, int>)set,
                    };
            }
            return null;
        }
    }
}
