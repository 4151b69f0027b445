// remat train measures memory: what that needs (glibc's settings on the CPU, libtorch's stream-ordered allocator on CUDA)
// is set first thing, before the runtime's threads have taken their heaps and before CUDA starts (docs/torchsharp.md,
// "Memory measurement").
if (args is ["train", ..])
    Remat.Cli.TrainDevice.Prepare(args.SkipWhile(a => a != "--device").Skip(1).FirstOrDefault() == "cuda" ? "cuda" : "cpu");
return Remat.Cli.Cli.Run(args, Console.Out, Console.Error);
