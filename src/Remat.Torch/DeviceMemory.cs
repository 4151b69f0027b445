using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The memory of one device as Remat measures it, for the profiler's sizes, the measured traces and
/// <c>remat train</c>'s peaks: on the CPU the process's resident set (<see cref="MemoryMeter"/>, Linux), on a CUDA
/// device the bytes libtorch holds in CUDA's stream-ordered memory pool (exact, with
/// <c>PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync</c>). Where neither works, <see cref="For"/> refuses with the
/// cause and the fix: Remat never plans a budget from sizes it guessed.
/// </summary>
public abstract class DeviceMemory
{
    /// <summary>
    /// The memory of <paramref name="device"/>. Throws a <see cref="RematException"/> that names the cause and the fix
    /// where it cannot be measured: a CPU outside Linux, a CUDA device on libtorch's caching allocator, another device.
    /// Measuring the CPU sets glibc's allocation settings first (<see cref="MemoryMeter.Initialize"/>); measuring a CUDA
    /// device changes nothing in the process.
    /// </summary>
    public static DeviceMemory For(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.type switch
        {
            DeviceType.CPU => ResidentMemory.Open(),
            DeviceType.CUDA => CudaMemory.Open(device),
            _ => throw new RematException($"Remat measures memory on the CPU (Linux) and on CUDA devices, not on {device.type}: " +
                                          "plan by a strategy with its settings (PlanOptions.Strategy, Segments, Snapshots) and run it with ScheduleExecutor.Step, " +
                                          "which measures nothing."),
        };
    }

    /// <summary>What is measured, in a few words, for reports ("resident set", "CUDA memory pool of cuda:0").</summary>
    public abstract string Source { get; }

    /// <summary>The bytes in use now.</summary>
    public abstract long Current();

    /// <summary>The most bytes in use since the last <see cref="ResetPeak"/>.</summary>
    public abstract long Peak();

    /// <summary>Starts a new high-water mark at the bytes in use now.</summary>
    public abstract void ResetPeak();

    /// <summary>Waits for the device's queued work, so that a wall-clock time includes it (the CPU has none).</summary>
    public virtual void Synchronize()
    {
    }

    /// <summary>Runs <paramref name="action"/> and returns how far memory rose above where it stood before: its own peak.</summary>
    public virtual long PeakAbove(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        Synchronize();
        long before = Current();
        ResetPeak();
        action();
        Synchronize();
        return Math.Max(0, Peak() - before);
    }
}
