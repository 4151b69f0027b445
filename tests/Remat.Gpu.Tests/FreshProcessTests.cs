using System.Diagnostics;

namespace Remat.Gpu.Tests;

/// <summary>
/// Tests that must start a process of their own: the dropout checks as the first CUDA work of a fresh process, 20 times
/// for each entry point (the reseeding replay went wrong in some processes only), and the refusal of libtorch's caching
/// allocator, which a process chooses when CUDA starts. Each child runs this test executable on one test method.
/// </summary>
public class FreshProcessTests
{
    private const int Processes = 20;

    public static TheoryData<string> EntryPoints =>
        [nameof(DropoutReplayTests.Function_checkpoint), nameof(DropoutReplayTests.Sequential_checkpoint), nameof(DropoutReplayTests.Checkpointed_sequential),
         nameof(DropoutReplayTests.Checkpointing_apply), nameof(DropoutReplayTests.Schedule_executor)];

    [Theory]
    [MemberData(nameof(EntryPoints))]
    public void Dropout_masks_replay_in_20_fresh_processes(string entryPoint)
    {
        _ = Gpu.Device;
        if (Gpu.IsChild)
            Assert.Skip("a child runs one test");
        var failures = new List<string>();
        Parallel.For(0, Processes, new ParallelOptions { MaxDegreeOfParallelism = 5 }, i =>
        {
            var (code, text) = Child($"{typeof(DropoutReplayTests).FullName}.{entryPoint}", allocator: "backend:cudaMallocAsync");
            if (code != 0)
                lock (failures)
                    failures.Add($"process {i}: exit {code}\n{text}");
        });
        Assert.True(failures.Count == 0, $"{entryPoint}: {failures.Count} of {Processes} fresh processes failed:\n{string.Join("\n", failures.Take(3))}");
    }

    [Fact]
    public void The_caching_allocator_is_refused_in_a_process_that_runs_on_it()
    {
        _ = Gpu.Device;
        if (Gpu.IsChild)
            Assert.Skip("a child runs one test");
        var (code, text) = Child($"{typeof(DeviceMemoryTests).FullName}.{nameof(DeviceMemoryTests.The_caching_allocator_is_refused_with_the_fix)}", allocator: "");
        Assert.True(code == 0 && !text.Contains("Skipped: 1"), $"the child failed or skipped (exit {code}):\n{text}");
    }

    /// <summary>Runs this test executable on one method, in a new process with the allocator setting given.</summary>
    private static (int Code, string Text) Child(string method, string allocator)
    {
        string assembly = typeof(FreshProcessTests).Assembly.Location;
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            start.ArgumentList.Add(assembly);
        foreach (var a in new[] { "-method", method, "-noLogo" })
            start.ArgumentList.Add(a);
        start.Environment["REMAT_GPU_CHILD"] = "1";
        start.Environment["PYTORCH_CUDA_ALLOC_CONF"] = allocator;
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string text = process.StandardOutput.ReadToEnd() + error.Result;
        process.WaitForExit();
        return (process.ExitCode, text);
    }
}
