using System.CommandLine;

namespace Remat.Cli.Viz;

/// <summary><c>remat viz</c>: serves the interactive visualisation on 127.0.0.1 until Ctrl-C.</summary>
internal static class VizCommand
{
    public static Command Create(TextWriter output)
    {
        var port = new Option<int>("--port") { Description = "The port on 127.0.0.1 (default 5117; 0 picks a free one).", DefaultValueFactory = _ => 5117 };
        var command = new Command("viz", "Serve the interactive visualisation of checkpointing on http://127.0.0.1.") { port };
        command.SetAction(async (parse, cancellation) =>
        {
            int p = parse.GetValue(port);
            if (p is < 0 or > 65535)
                throw new UsageException($"--port {p}: a port is 0 to 65535.");
            VizServer server;
            try
            {
                server = await VizServer.StartAsync(p, cancellation);
            }
            catch (IOException e)
            {
                throw new UsageException($"cannot listen on 127.0.0.1:{p}: {e.Message} Try another --port.");
            }
            await using (server)
            {
                output.WriteLine($"Remat visualisation at {server.Address} (Ctrl-C to stop)");
                await server.RunUntilAsync(cancellation);
            }
            output.WriteLine("stopped");
            return 0;
        });
        return command;
    }
}
