using System.Diagnostics;

namespace Remat.Tests;

/// <summary>Ctrl-C (SIGINT) stops the long-running commands cleanly: a message, an exit code, nothing half-written.</summary>
public class CancellationTests
{
    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Remat.Cli.dll"));
        foreach (var a in args)
            info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    private static void Interrupt(Process process)
    {
        using var kill = Process.Start("kill", ["-INT", process.Id.ToString()])!;
        kill.WaitForExit();
    }

    [Fact]
    public async Task Ctrl_C_stops_remat_train_with_no_results_written()
    {
        using var process = Start("train", "--layers", "4", "--width", "64", "--batch", "16", "--steps", "1000000", "--strategy", "storeall,periodic", "--json");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await Task.Delay(TimeSpan.FromSeconds(8)); // past start-up and profiling, into the training steps
        Interrupt(process);
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(20)), "remat train did not stop within 20 s of Ctrl-C");
        Assert.Equal(130, process.ExitCode);
        Assert.Contains("stopped", await stderr);
        Assert.Equal("", await stdout);
    }

    [Fact]
    public async Task Ctrl_C_stops_remat_viz()
    {
        using var process = Start("viz", "--port", "0");
        string? first = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("http://127.0.0.1:", first);
        Interrupt(process);
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(20)), "remat viz did not stop within 20 s of Ctrl-C");
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("stopped", await process.StandardOutput.ReadToEndAsync());
    }

    [Fact]
    public async Task Ctrl_C_stops_remat_plan_while_the_graph_solver_runs()
    {
        // CP-SAT's own Ctrl-C handler aborted the process here ("std::bad_function_call", exit code 134).
        using var process = Start("plan", "--graph", "unet", "--budget", "200MiB", "--time-limit", "60");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await Task.Delay(TimeSpan.FromSeconds(8)); // past the block plans, into the solver
        Interrupt(process);
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(20)), "remat plan --graph did not stop within 20 s of Ctrl-C");
        Assert.True(process.ExitCode == 130, $"exit code {process.ExitCode}, not 130; standard error: {await stderr}");
        Assert.Contains("stopped", await stderr);
        Assert.Equal("", await stdout);
    }
}
