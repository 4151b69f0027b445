using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Remat.Package.Tests;

/// <summary>
/// "A user can install it": the packages are packed into a folder, a new console project outside the repository
/// references Remat.Torch from it (its dependencies from NuGet as usual), builds and runs a training step, and the
/// remat tool is installed from the same folder and plans. Nothing of the repository's build is used by the consumer:
/// the libstdc++ fix must come with the package.
/// </summary>
public sealed class PackageTests(ITestOutputHelper output, PackageTests.Packed packed) : IDisposable, IClassFixture<PackageTests.Packed>
{
    /// <summary>The packages, packed once for the class into a temporary folder that goes with it (2-3 GB of build output).</summary>
    public sealed class Packed : IDisposable
    {
        private readonly string _temp = Directory.CreateTempSubdirectory("remat-feed-").FullName;
        private readonly Lazy<string> _feed;

        public Packed() => _feed = new(() => PackAll(_temp));

        /// <summary>The folder of packages.</summary>
        public string Feed => _feed.Value;

        public void Dispose() => Directory.Delete(_temp, recursive: true);
    }

    private readonly string _work = Directory.CreateTempSubdirectory("remat-package-").FullName;

    // A version of its own, so that NuGet's cache never hands the consumer an older package of the same number.
    private static readonly string Version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);


    /// <summary>
    /// Remat.Torch references the managed TorchSharp package and leaves the native runtime to the application, as
    /// TorchSharp's own libraries do: the consumer adds TorchSharp-cpu (bindings and libtorch in one), or libtorch-cpu
    /// beside the TorchSharp that Remat.Torch brings. Either way the libstdc++ fix must reach its build output.
    /// </summary>
    [Theory]
    [InlineData("TorchSharp-cpu", "0.107.0")]
    [InlineData("libtorch-cpu", "2.10.0")]
    public void A_new_console_project_trains_with_the_Remat_Torch_package(string runtime, string runtimeVersion)
    {
        string project = NewConsole("FirstHour");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Consumer", "Program.cs"), Path.Combine(project, "Program.cs"));
        Run("dotnet", $"add package Remat.Torch --version {Version} --source {packed.Feed}", project);
        Run("dotnet", $"add package {runtime} --version {runtimeVersion}", project);
        var (code, text) = Run("dotnet", "run -c Release", project, check: false);
        Assert.True(code == 0, $"the consumer on {runtime} failed (exit {code}):\n{text}");
        Assert.Contains("gradients equal: True", text);
        Assert.Contains("libtorch's backend switches found: True", text);
    }

    [Fact]
    public void The_remat_tool_installs_from_the_package_folder_and_plans()
    {
        string tools = Path.Combine(_work, "tools");
        Run("dotnet", $"tool install --tool-path {tools} --add-source {packed.Feed} Remat.Cli --version {Version}", _work);
        var (code, text) = Run(Path.Combine(tools, "remat"), "plan --layers 12 --budget 1GiB", _work, check: false);
        Assert.True(code == 0, $"remat plan failed (exit {code}):\n{text}");
        Assert.Contains("optimal", text);
        (code, text) = Run(Path.Combine(tools, "remat"), "plan --layers 12 --budget 1KiB", _work, check: false);
        Assert.Equal(2, code);
        Assert.Contains("smallest budget that works", text);
        // The graph planner loads OR-Tools' native solver from the tool's folder.
        (code, text) = Run(Path.Combine(tools, "remat"), "plan --graph unet --budget 100GiB --time-limit 30", _work, check: false);
        Assert.True(code == 0, $"remat plan --graph failed (exit {code}):\n{text}");
        Assert.Contains("cpsat", text);
    }

    /// <summary>
    /// A library user plans a graph through the one call: Remat.CpSat's package gives the registry's optimal strategy its
    /// solver, and OR-Tools' native library must load from the consumer's build output.
    /// </summary>
    [Fact]
    public void A_new_console_project_plans_a_graph_with_the_Remat_CpSat_package()
    {
        string project = NewConsole("Graphs");
        File.WriteAllText(Path.Combine(project, "Program.cs"), """
            using Remat;

            Remat.CpSat.GraphPlanner.Register();
            var graph = GraphModels.UNet(2);
            long storeAll = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
            var plan = Planner.Plan(graph, new PlanOptions { BudgetBytes = storeAll * 7 / 10, TimeLimit = TimeSpan.FromSeconds(20) });
            Console.WriteLine($"within the budget: {plan.PeakBytes <= storeAll * 7 / 10}, a graph plan: {plan.Chain is null}");
            try
            {
                Planner.Plan(graph, new PlanOptions { Strategy = "revolve" });
            }
            catch (RematException e)
            {
                Console.WriteLine($"refused: {e.Message}");
            }
            """);
        Run("dotnet", $"add package Remat.CpSat --version {Version} --source {packed.Feed}", project);
        var (code, text) = Run("dotnet", "run -c Release", project, check: false);
        Assert.True(code == 0, $"the graph consumer failed (exit {code}):\n{text}");
        Assert.Contains("within the budget: True, a graph plan: True", text);
        Assert.Contains("refused: revolve plans chains", text);
    }

    /// <summary>A new console project called <paramref name="name"/> in the work folder, as <c>dotnet new console</c> makes one.</summary>
    private string NewConsole(string name)
    {
        string project = Path.Combine(_work, name);
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, name + ".csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
            </Project>
            """);
        return project;
    }

    /// <summary>Packs Remat, Remat.Torch, Remat.CpSat and the tool into a folder, building in a folder of its own.</summary>
    private static string PackAll(string temp)
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Remat.slnx")))
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("the tests run outside the repository: no Remat.slnx above them.");
        string feed = Path.Combine(temp, "feed");
        foreach (var project in new[] { "src/Remat", "src/Remat.Torch", "src/Remat.CpSat", "src/Remat.Cli" })
            Run("dotnet", $"pack {project} -c Release -o {feed} -p:Version={Version} --artifacts-path {Path.Combine(temp, "artifacts")}", root);
        return feed;
    }

    private static (int Code, string Text) Run(string file, string arguments, string directory, bool check = true)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        // The consumer is a stranger to this test run: none of its MSBuild or test-host settings leak into it.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(name);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string text = process.StandardOutput.ReadToEnd() + stderr.Result;
        process.WaitForExit();
        if (check && process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {arguments} failed (exit {process.ExitCode}):\n{text}");
        return (process.ExitCode, text);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException e)
        {
            output.WriteLine($"could not remove {_work}: {e.Message}");
        }
    }
}
