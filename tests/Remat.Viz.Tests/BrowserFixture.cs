using Microsoft.Playwright;
using Remat.Cli.Viz;

namespace Remat.Viz.Tests;

/// <summary>
/// The viz server on a free port and Debian's Chromium driven by Playwright (no browser download: .ci/run installs
/// the chromium package). Shared by the browser tests.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private VizServer? _server;

    public IBrowser Browser { get; private set; } = null!;

    public Uri Address => _server!.Address;

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ChromiumPath), $"the browser tests need Debian's chromium at {ChromiumPath} (.ci/run installs it)");
        _server = await VizServer.StartAsync(0);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync"],
        });
    }

    public async Task DisposeAsync()
    {
        await Browser.CloseAsync();
        _playwright?.Dispose();
        if (_server is not null)
            await _server.DisposeAsync();
    }
}
