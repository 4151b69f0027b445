using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Remat.Planners;

/// <summary>
/// Asks Linux to back a large table with 2 MiB pages (transparent huge pages, <c>madvise(MADV_HUGEPAGE)</c>). A table
/// of gigabytes otherwise takes one page fault per 4 KiB on first touch, which cost about a fifth of the exact
/// program's time on the machine of docs/benchmarks.md. Elsewhere, or where the kernel declines, nothing changes.
/// </summary>
internal static partial class HugePages
{
    private const int Advice = 14; // MADV_HUGEPAGE
    private const long Size = 2L << 20;

    /// <summary>Advises the whole 2 MiB pages inside <paramref name="pinned"/>, an array on the pinned heap not yet written.</summary>
    public static unsafe void Advise(float[] pinned)
    {
        if (!OperatingSystem.IsLinux() || (long)pinned.Length * sizeof(float) < 2 * Size)
            return;
        long start = (long)Unsafe.AsPointer(ref pinned[0]), end = start + (long)pinned.Length * sizeof(float);
        long first = (start + Size - 1) & ~(Size - 1), last = end & ~(Size - 1);
        try
        {
            _ = MAdvise((nint)first, (nuint)(last - first), Advice); // a refusal leaves ordinary pages
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int MAdvise(nint address, nuint length, int advice);
}
