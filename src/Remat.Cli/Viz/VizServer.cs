using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Remat.Cli.Viz;

/// <summary>
/// The local web server of <c>remat viz</c>: the page and its JSON API, bound to 127.0.0.1 only.
/// Every figure the page shows comes from the API, that is from the core planners and simulator.
/// </summary>
internal sealed class VizServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private VizServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Where the page is served, e.g. http://127.0.0.1:5000/.</summary>
    public Uri Address { get; }

    /// <summary>Starts the server on <paramref name="port"/> (0: any free port).</summary>
    public static async Task<VizServer> StartAsync(int port, CancellationToken cancellation = default)
    {
        CpSat.GraphPlanner.Register(); // the graph tab plans with optimal, which is CP-SAT's for graphs
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
        var app = builder.Build();
        MapAsset(app, "/", "index.html", "text/html; charset=utf-8");
        MapAsset(app, "/app.js", "app.js", "text/javascript; charset=utf-8");
        MapAsset(app, "/style.css", "style.css", "text/css; charset=utf-8");
        MapAsset(app, "/vendor/chart.umd.min.js", "chart.umd.min.js", "text/javascript; charset=utf-8");
        app.MapPost("/api/plan", (PlanRequest request) => Answer(() => VizApi.Plan(request)));
        app.MapPost("/api/tradeoff", (ChainRequest request) => Answer(() => VizApi.Tradeoff(request)));
        app.MapPost("/api/concept", (ChainRequest request) => Answer(() => VizApi.Concept(request)));
        app.MapPost("/api/graph", (GraphRequest request, CancellationToken aborted) => Answer(() => VizApi.Graph(request, aborted)));
        app.MapGet("/api/presets", () => Remat.Transformers.TransformerPreset.All.Select(p => p.Name));
        app.MapGet("/api/memory", (HttpRequest request) =>
        {
            try
            {
                return Results.Text(VizApi.Memory(request.Query.Select(q => KeyValuePair.Create(q.Key, q.Value.ToString()))), "application/json");
            }
            catch (UsageException e)
            {
                return Results.Json(new { error = e.Message }, statusCode: 400);
            }
        });
        await app.StartAsync(cancellation);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new VizServer(app, new Uri(address.EndsWith('/') ? address : address + "/"));
    }

    /// <summary>
    /// Waits until <paramref name="cancellation"/> fires or the host is asked to stop (ASP.NET's own handling of
    /// Ctrl-C and SIGTERM), whichever comes first.
    /// </summary>
    public async Task RunUntilAsync(CancellationToken cancellation)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellation, _app.Lifetime.ApplicationStopping);
        try
        {
            await Task.Delay(Timeout.Infinite, either.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>An embedded asset's text.</summary>
    public static string Asset(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
                           ?? throw new InvalidOperationException($"the asset {name} is not embedded.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static void MapAsset(WebApplication app, string path, string name, string contentType)
    {
        string text = Asset(name);
        app.MapGet(path, () => Results.Text(text, contentType));
    }

    private static IResult Answer<T>(Func<T> answer)
    {
        try
        {
            return Results.Json(answer());
        }
        catch (InfeasibleBudgetException e)
        {
            return Results.Json(new { error = e.Message, minimumBytes = e.MinimumBytes }, statusCode: 400);
        }
        catch (Exception e) when (e is RematException or UsageException or ArgumentException)
        {
            return Results.Json(new { error = e.Message }, statusCode: 400);
        }
    }
}
