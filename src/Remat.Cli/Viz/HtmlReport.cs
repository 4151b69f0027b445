using System.Text.Json;

namespace Remat.Cli.Viz;

/// <summary>
/// The static export of <c>--html</c>: the page of <c>remat viz</c> in one file, with its style, Chart.js and the
/// API's answers for one plan inlined, so it opens with no server and no network. Written atomically.
/// </summary>
internal static class HtmlReport
{
    public static void Write(string path, PlanResponse plan, TradeoffResponse tradeoff)
    {
        string data = JsonSerializer.Serialize(new { plan, tradeoff }, JsonSerializerOptions.Web); // escapes '<', so it cannot end the script
        string html = VizServer.Asset("index.html")
            .Replace("<link rel=\"stylesheet\" href=\"style.css\">", "<style>\n" + VizServer.Asset("style.css") + "</style>")
            .Replace("<script src=\"vendor/chart.umd.min.js\"></script>", "<script>\n" + VizServer.Asset("chart.umd.min.js") + "\n</script>")
            .Replace("<script src=\"app.js\"></script>", "<script>window.REMAT_STATIC = " + data + ";</script>\n<script>\n" + VizServer.Asset("app.js") + "\n</script>");
        if (string.IsNullOrWhiteSpace(path))
            throw new UsageException("--html needs a file name.");
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temporary, html);
            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temporary);
            throw new UsageException($"cannot write '{path}': {e.Message}");
        }
    }
}
