using System.Net;
using System.Net.Http.Json;

namespace Remat.Viz.Tests;

public class ServerTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Concurrent_requests_all_get_the_same_right_answer()
    {
        using var http = new HttpClient { BaseAddress = fixture.Address };
        var request = new { chain = new { layers = 40, kind = "heterogeneous", seed = 7 }, strategy = "optimal", budgetBytes = 300_000_000L };
        var answers = await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            using var response = await http.PostAsJsonAsync("api/plan", request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }));
        Assert.Single(answers.Distinct());
    }

    [Fact]
    public async Task The_calculator_api_refuses_an_unknown_setting_and_a_bad_value_with_the_reason()
    {
        using var http = new HttpClient { BaseAddress = fixture.Address };
        using var unknown = await http.GetAsync("api/memory?preset=gpt-175b&tensorparallel=8");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("unknown setting 'tensorparallel'", await unknown.Content.ReadAsStringAsync());
        using var bad = await http.GetAsync("api/memory?preset=gpt-175b&pp=7");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("must divide the layers", await bad.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Bad_requests_get_a_400_with_the_reason()
    {
        using var http = new HttpClient { BaseAddress = fixture.Address };
        using var infeasible = await http.PostAsJsonAsync("api/plan", new { chain = new { layers = 10 }, strategy = "optimal", budgetBytes = 10 });
        Assert.Equal(HttpStatusCode.BadRequest, infeasible.StatusCode);
        Assert.Contains("smallest budget that works", await infeasible.Content.ReadAsStringAsync());
        using var badChain = await http.PostAsJsonAsync("api/plan", new { chain = new { json = "{\"stages\": []}" }, strategy = "periodic" });
        Assert.Equal(HttpStatusCode.BadRequest, badChain.StatusCode);
        using var tooLong = await http.PostAsJsonAsync("api/tradeoff", new { layers = 100000 });
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
    }
}
