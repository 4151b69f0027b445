using System.Runtime.CompilerServices;

// The tests share libtorch's global random generator and measure the process's resident set: run them one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Remat.Torch.Tests;

internal static class Setup
{
    /// <summary>Memory is measured in these tests: the allocator is set up before any tensor exists.</summary>
    [ModuleInitializer]
    internal static void Initialize() => MemoryMeter.Initialize();
}
