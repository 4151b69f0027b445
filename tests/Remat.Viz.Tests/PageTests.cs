using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Remat.Cli.Viz;

namespace Remat.Viz.Tests;

public class PageTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    /// <summary>A page on the server whose console errors and page errors are collected.</summary>
    private async Task<(IPage Page, List<string> Errors)> Open()
    {
        var page = await fixture.Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 1400 } });
        var errors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") errors.Add(m.Text); };
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync(fixture.Address.ToString());
        await page.WaitForFunctionAsync("() => typeof state !== 'undefined' && state.plan !== null && state.tradeoff !== null");
        return (page, errors);
    }

    [Fact]
    public async Task The_page_loads_with_no_console_errors_and_draws_every_chart()
    {
        var (page, errors) = await Open();
        Assert.Empty(errors);
        Assert.True(await page.EvaluateAsync<bool>("() => ['memory', 'tradeoff', 'product'].every(c => state.charts[c])"));
        Assert.Equal(36, await page.Locator("#chain .layer").CountAsync());
    }

    [Fact]
    public async Task Moving_the_budget_slider_changes_the_plan_and_the_charts()
    {
        var (page, errors) = await Open();
        long before = await page.EvaluateAsync<long>("() => state.plan.peakBytes");
        string peakText = await page.InnerTextAsync("#peak");
        await page.EvalOnSelectorAsync("#budget", "e => { e.value = e.min; e.dispatchEvent(new Event('change')); }");
        await page.WaitForFunctionAsync($"() => state.plan.peakBytes !== {before}");
        Assert.NotEqual(peakText, await page.InnerTextAsync("#peak"));
        long budget = await page.EvaluateAsync<long>("() => state.plan.budgetBytes");
        Assert.True(await page.EvaluateAsync<long>("() => state.plan.peakBytes") <= budget);
        Assert.True(await page.EvaluateAsync<bool>("() => state.charts.memory.data.datasets[0].data.length === state.plan.ops.length"));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task The_peak_shown_is_the_one_the_API_returns()
    {
        var (page, _) = await Open();
        await page.SelectOptionAsync("#kind", "heterogeneous");
        await page.WaitForFunctionAsync("() => state.plan.stages[0].outputBytes !== state.plan.stages[1].outputBytes");
        long budget = await page.EvaluateAsync<long>("() => +document.getElementById('budget').value");
        using var http = new HttpClient { BaseAddress = fixture.Address };
        var response = await http.PostAsJsonAsync("api/plan", new
        {
            chain = new { layers = 36, kind = "heterogeneous", seed = 42 },
            strategy = "optimal",
            budgetBytes = budget,
            segments = 6,
            snapshots = 6,
        });
        var api = await response.Content.ReadFromJsonAsync<JsonElement>();
        long peak = api.GetProperty("peakBytes").GetInt64();
        Assert.Equal(peak, await page.EvaluateAsync<long>("() => state.plan.peakBytes"));
        Assert.Equal(await page.EvaluateAsync<string>($"() => fmtBytes({peak})"), await page.InnerTextAsync("#peak"));
    }

    [Fact]
    public async Task The_animation_steps_through_the_schedule()
    {
        var (page, _) = await Open();
        await page.ClickAsync("#step");
        await page.ClickAsync("#step");
        await page.Keyboard.PressAsync("ArrowRight");
        Assert.StartsWith("operation 3 of", await page.InnerTextAsync("#op-label"));
        Assert.Equal(1, await page.Locator("#chain .layer.current").CountAsync());
        await page.ClickAsync("#play");
        await page.WaitForFunctionAsync("() => state.frame > 6");
        await page.ClickAsync("#play");
        int frame = await page.EvaluateAsync<int>("() => state.frame");
        await page.WaitForTimeoutAsync(300);
        Assert.Equal(frame, await page.EvaluateAsync<int>("() => state.frame"));
    }

    [Fact]
    public async Task The_claims_are_measured_on_the_chain_on_screen_and_the_ops_are_drawn_along_time()
    {
        var (page, errors) = await Open();
        await page.WaitForFunctionAsync("() => state.concept !== null && state.charts.scaling && state.charts.gantt");
        var growth = await page.EvaluateAsync<double[]>(
            "() => { const p = state.concept.scaling, a = p[0], z = p[p.length - 1]; return [z.storeAllBytes / a.storeAllBytes, z.sqrtBytes / a.sqrtBytes, z.layers / a.layers]; }");
        Assert.True(growth[0] > 0.8 * growth[2], $"store-all should grow about like L: x{growth[0]:0.0} for x{growth[2]:0.0} layers");
        Assert.True(growth[1] < 0.6 * growth[0], $"sqrt(L) checkpointing should grow far slower than store-all: x{growth[1]:0.0} against x{growth[0]:0.0}");
        string claims = await page.InnerTextAsync("#claims");
        Assert.Contains("33.3%", claims); // the uniform chain's backward costs two forwards
        Assert.Contains("Selective recompute", claims);
        int bars = await page.EvaluateAsync<int>("() => state.charts.gantt.data.datasets.reduce((n, d) => n + d.data.length, 0)");
        Assert.Equal(await page.EvaluateAsync<int>("() => state.plan.ops.filter(o => o.op !== 'Loss').length"), bars);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Two_hundred_layers_are_planned_and_drawn()
    {
        // 400 layers work too, but the trade-off view plans the frontier for over a minute there (docs/viz.md).
        var (page, errors) = await Open();
        await page.EvalOnSelectorAsync("#layers", "e => { e.value = 200; e.dispatchEvent(new Event('change')); }");
        await page.WaitForFunctionAsync("() => state.plan.stages.length === 200 && state.concept.scaling.at(-1).layers === 200", null,
            new PageWaitForFunctionOptions { Timeout = 120_000 });
        Assert.Equal(200, await page.Locator("#chain .layer").CountAsync());
        Assert.Empty(errors);
    }

    /// <summary>The page at a shared calculator link, once both configurations have their answer.</summary>
    private async Task<(IPage Page, List<string> Errors)> OpenCalculator(string a, string b)
    {
        var (page, errors) = await Open();
        await page.GotoAsync(fixture.Address + "#transformer?a=" + Uri.EscapeDataString(a) + "&b=" + Uri.EscapeDataString(b));
        await page.ReloadAsync();
        await page.WaitForFunctionAsync("() => calculator.results.a && calculator.results.b && state.charts.calculator");
        return (page, errors);
    }

    private static JsonElement RematMemory(params string[] args)
    {
        var output = new StringWriter();
        Assert.Equal(0, Cli.Cli.Run(["memory", .. args, "--json", "--recommend"], output, new StringWriter()));
        return JsonDocument.Parse(output.ToString()).RootElement;
    }

    [Fact]
    public async Task A_shared_calculator_link_shows_both_settings_with_the_numbers_of_remat_memory()
    {
        var (page, errors) = await OpenCalculator("preset=gpt-175b&tp=8&pp=8", "preset=gpt-175b&tp=8&pp=8&recompute=full&zero=1&dp=8");
        Assert.Equal("8", await page.InputValueAsync("#b-dp"));
        Assert.Equal("full", await page.InputValueAsync("#b-recompute"));
        var a = RematMemory("--preset", "gpt-175b", "--tp", "8", "--pp", "8");
        var b = RematMemory("--preset", "gpt-175b", "--tp", "8", "--pp", "8", "--recompute", "full", "--zero", "1", "--dp", "8");
        Assert.Equal(a.GetProperty("totalBytes").GetDouble(), await page.EvaluateAsync<double>("() => calculator.results.a.totalBytes"));
        Assert.Equal(b.GetProperty("totalBytes").GetDouble(), await page.EvaluateAsync<double>("() => calculator.results.b.totalBytes"));
        Assert.Equal(b.GetProperty("recomputeOverhead").GetDouble(), await page.EvaluateAsync<double>("() => calculator.results.b.recomputeOverhead"));
        // The API answers the same, and each verdict names the command that prints these numbers.
        using var http = new HttpClient { BaseAddress = fixture.Address };
        var api = await http.GetFromJsonAsync<JsonElement>("api/memory?preset=gpt-175b&tp=8&pp=8");
        Assert.Equal(a.GetProperty("totalBytes").GetDouble(), api.GetProperty("totalBytes").GetDouble());
        // The command the verdict shows prints the page's numbers.
        string shown = await page.InnerTextAsync("#verdict-b code");
        Assert.StartsWith("remat memory ", shown);
        var printed = RematMemory([.. shown["remat memory ".Length..].Replace(" --recommend", "").Split(' ')]);
        Assert.Equal(b.GetProperty("totalBytes").GetDouble(), printed.GetProperty("totalBytes").GetDouble());
        Assert.Equal(2, await page.EvaluateAsync<int>("() => state.charts.calculator.data.labels.length"));
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Changing_a_setting_changes_the_verdict_and_the_link()
    {
        var (page, errors) = await OpenCalculator("preset=gpt-175b", "preset=gpt-175b");
        Assert.Contains("does not fit", await page.InnerTextAsync("#verdict-a"));
        Assert.Contains("Cheapest setting that fits: selective recompute", await page.InnerTextAsync("#verdict-a"));
        await page.SelectOptionAsync("#a-recompute", "selective");
        await page.WaitForFunctionAsync("() => calculator.results.a.fits");
        Assert.Contains("fits", await page.InnerTextAsync("#verdict-a"));
        Assert.DoesNotContain("does not fit", await page.InnerTextAsync("#verdict-a"));
        Assert.Contains("does not fit", await page.InnerTextAsync("#verdict-b"));
        Assert.Contains(Uri.EscapeDataString("recompute=selective"), await page.EvaluateAsync<string>("() => location.hash"));
        // A bad setting gets the command's own message, and the other configuration is untouched.
        await page.FillAsync("#b-tp", "7");
        await page.DispatchEventAsync("#b-tp", "change");
        await page.WaitForFunctionAsync("() => calculator.results.b === null");
        Assert.Contains("tensor", await page.InnerTextAsync("#verdict-b"));
        Assert.Contains("fits", await page.InnerTextAsync("#verdict-a"));
        Assert.All(errors, e => Assert.Contains("400", e)); // only the refused request, answered with the message above
    }

    [Fact]
    public async Task Every_calculator_control_has_a_label_and_is_reachable_by_keyboard()
    {
        var (page, _) = await OpenCalculator("preset=gpt-175b", "preset=gpt-175b");
        var unlabelled = await page.EvaluateAsync<string[]>(
            "() => [...document.querySelectorAll('#panel-transformer input, #panel-transformer select')].filter(e => !document.querySelector(`label[for=\"${e.id}\"]`)).map(e => e.id)");
        Assert.Empty(unlabelled);
        await page.FocusAsync("#a-preset");
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("a-layers", await page.EvaluateAsync<string>("() => document.activeElement.id"));
        Assert.Equal("polite", await page.GetAttributeAsync("#verdict-a", "aria-live"));
    }

    [Fact]
    public async Task The_graph_tab_draws_the_CP_SAT_plan_of_a_U_Net_and_its_memory_within_the_budget()
    {
        var (page, errors) = await Open();
        await page.EvalOnSelectorAsync("#graph-seconds", "e => e.value = 1"); // a second of search keeps the test short
        await page.ClickAsync("#tab-graph");
        await page.WaitForFunctionAsync("() => state.charts['graph-memory'] !== undefined", null, new PageWaitForFunctionOptions { Timeout = 60_000 });
        Assert.Equal(60, await page.Locator("#graph-drawing circle").CountAsync());
        string status = await page.InnerTextAsync("#graph-status");
        Assert.Contains("unet, 60 nodes", status);

        using var http = new HttpClient { BaseAddress = fixture.Address };
        using var response = await http.PostAsJsonAsync("api/graph", new { model = "unet", budgetFraction = 0.5, timeLimitSeconds = 1 });
        response.EnsureSuccessStatusCode();
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var g = doc.RootElement;
        Assert.True(g.GetProperty("peakBytes").GetInt64() <= g.GetProperty("budgetBytes").GetInt64(), "the plan's peak is over its budget");
        var forwards = g.GetProperty("nodes").EnumerateArray().Sum(n => n.GetProperty("forwards").GetInt32());
        var forwardOps = g.GetProperty("ops").EnumerateArray().Count(o => o.GetProperty("op").GetString() is "Fe" or "Fn" or "Fck");
        Assert.Equal(forwardOps, forwards);
        Assert.True(forwards > 60, "at half of store-all's peak some node must be recomputed");

        await page.SelectOptionAsync("#graph-model", "resnet");
        await page.WaitForFunctionAsync("() => document.querySelectorAll('#graph-drawing circle').length === 152", null, new PageWaitForFunctionOptions { Timeout = 60_000 });
        Assert.Contains("resnet, 152 nodes", await page.InnerTextAsync("#graph-status"));

        // Periodic segments take no budget: the page shows their plan and where its peak lies against the budget.
        await page.SelectOptionAsync("#graph-strategy", "periodic");
        await page.WaitForFunctionAsync("() => document.querySelector('#graph-status').textContent.includes('periodic')", null, new PageWaitForFunctionOptions { Timeout = 60_000 });
        using var periodic = await http.PostAsJsonAsync("api/graph", new { model = "resnet", budgetFraction = 0.5, timeLimitSeconds = 1, strategy = "periodic" });
        periodic.EnsureSuccessStatusCode();
        using var planned = JsonDocument.Parse(await periodic.Content.ReadAsStringAsync());
        var resnet = GraphModels.ResNet();
        Assert.Equal(Planner.Plan(resnet, new PlanOptions { Strategy = "periodic" }).PeakBytes, planned.RootElement.GetProperty("peakBytes").GetInt64());
        Assert.Equal("periodic", planned.RootElement.GetProperty("strategy").GetString());
        using var refused = await http.PostAsJsonAsync("api/graph", new { model = "unet", strategy = "revolve" });
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task The_static_export_opens_offline()
    {
        string path = Path.Combine(Path.GetTempPath(), $"remat-report-{Guid.NewGuid():N}.html");
        var output = new StringWriter();
        int code = Cli.Cli.Run(["plan", "--layers", "16", "--budget", "700MiB", "--html", path], output, new StringWriter());
        Assert.Equal(0, code);
        try
        {
            await using var context = await fixture.Browser.NewContextAsync();
            var requests = new List<string>();
            await context.RouteAsync("**/*", async route =>
            {
                if (route.Request.Url.StartsWith("file:", StringComparison.Ordinal))
                    await route.ContinueAsync();
                else
                {
                    requests.Add(route.Request.Url);
                    await route.AbortAsync();
                }
            });
            var page = await context.NewPageAsync();
            var errors = new List<string>();
            page.PageError += (_, e) => errors.Add(e);
            await page.GotoAsync(new Uri(path).AbsoluteUri);
            await page.WaitForFunctionAsync("() => state.charts.memory !== undefined");
            Assert.Empty(requests);
            Assert.Empty(errors);
            // The summary says "peak  672 MiB (704643072 bytes)": the page must show that plan.
            var peakLine = output.ToString().Split('\n').Single(l => l.StartsWith("peak", StringComparison.Ordinal));
            long peak = long.Parse(peakLine[(peakLine.IndexOf('(') + 1)..peakLine.IndexOf(" bytes", StringComparison.Ordinal)]);
            Assert.Equal(peak, await page.EvaluateAsync<long>("() => state.plan.peakBytes"));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
