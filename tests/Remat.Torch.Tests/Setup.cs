using System.Runtime.CompilerServices;

namespace Remat.Torch.Tests;

internal static class Setup
{
    /// <summary>Memory is measured in these tests: the allocator is set up before any tensor exists.</summary>
    [ModuleInitializer]
    internal static void Initialize() => MemoryMeter.Initialize();
}
