using System.Runtime.InteropServices;

namespace Remat.Torch;

/// <summary>
/// Peak memory as the operating system sees it (Linux): the resident set's high-water mark (<c>VmHWM</c> of
/// <c>/proc/self/status</c>), reset by writing 5 to <c>/proc/self/clear_refs</c>. To make the resident set follow
/// the tensors, glibc is told to serve every allocation of 64 KiB or more by mmap, so that freeing one returns
/// it to the system at once (mallopt M_MMAP_THRESHOLD; otherwise freed tensors stay resident in the heap). glibc is
/// also allowed 64 heaps (M_ARENA_MAX), so that other threads, such as a solver's workers, get heaps of their own
/// rather than sharing the training thread's and leaving free chunks in it that its tensors would then be served from.
/// </summary>
public static partial class MemoryMeter
{
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD
    private const int ArenaMax = -8; // M_ARENA_MAX

    private static bool _initialized;

    /// <summary>
    /// Sets glibc's mmap threshold and heap limit. Call it before the process allocates its tensors, as early as you
    /// can: memory the heap already holds would otherwise be reused without showing in the resident set, and glibc
    /// fixes its heap limit once the process has more than eight heaps. Measuring calls it too.
    /// </summary>
    public static void Initialize()
    {
        if (_initialized || !IsSupported)
            return;
        _ = mallopt(MmapThreshold, 64 * 1024);
        _ = mallopt(ArenaMax, 64);
        _initialized = true;
    }

    /// <summary>True on Linux, where /proc gives the peak.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && File.Exists("/proc/self/clear_refs");

    /// <summary>
    /// Runs <paramref name="action"/> and returns how far the resident set rose above where it stood before:
    /// the peak of the action's own memory.
    /// </summary>
    public static long PeakAbove(Action action)
    {
        if (!IsSupported)
            throw new PlatformNotSupportedException("measuring peak memory needs Linux's /proc/self/clear_refs and VmHWM.");
        Initialize();
        _ = malloc_trim(0);
        File.WriteAllText("/proc/self/clear_refs", "5");
        long before = Read("VmRSS");
        action();
        return Math.Max(0, Read("VmHWM") - before);
    }

    /// <summary>Resets the resident set's high-water mark (<see cref="Peak"/>) to the resident set now.</summary>
    public static void ResetPeak()
    {
        if (IsSupported)
            File.WriteAllText("/proc/self/clear_refs", "5");
    }

    /// <summary>The resident set's high-water mark since the last reset, in bytes.</summary>
    public static long Peak() => IsSupported ? Read("VmHWM") : 0;

    /// <summary>The resident set now, in bytes.</summary>
    public static long Resident() => IsSupported ? Read("VmRSS") : 0;

    private static long Read(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) * 1024;
        throw new InvalidOperationException($"/proc/self/status has no {field}.");
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int malloc_trim(nuint pad);
}
