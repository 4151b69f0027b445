return Remat.Cli.Cli.Run(args, Console.Out, Console.Error);
