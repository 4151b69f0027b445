// remat train measures memory: glibc's settings for that (MemoryMeter) are set first thing, before the runtime's threads
// have taken their heaps, so that the arena limit still applies (docs/torchsharp.md, "Memory measurement").
if (args is ["train", ..])
    Remat.Torch.MemoryMeter.Initialize();
return Remat.Cli.Cli.Run(args, Console.Out, Console.Error);
