using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Remat.Planners;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Cli;

/// <summary>
/// <c>remat train</c>: real training steps of a synthetic regression on TorchSharp with each strategy, interleaved
/// round-robin so that every strategy sees the same machine, with measured and planned peak memory, the median step
/// time and its spread, and the loss for each; optionally the measured trace of one step beside the planned one.
/// </summary>
internal static class TrainCommand
{
    private static readonly string[] Names = [.. Strategies.Names, "auto", "plain"];

    private sealed record Result(string Strategy, long MeasuredPeakBytes, long WorstPeakBytes, long PlannedPeakBytes, double MedianStepSeconds,
        double Spread, double Overhead, bool WithinNoise, float FinalLoss, string Source);

    /// <summary>One strategy's model, step and plan, and what its steps measured.</summary>
    private sealed class Run(string name, IEnumerable<nn.Module> modules, Func<float> step, Trace plan, Func<MeasuredStep>? measure, Tensor input)
    {
        public string Name { get; } = name;
        public DeviceMemory Memory { get; } = DeviceMemory.For(input.device);

        /// <summary>The input's bytes: a step's peak is its rise plus the input, which the plan counts from the start.</summary>
        public long InputBytes { get; } = input.numel() * input.ElementSize;
        public Func<float> Step { get; } = step;
        public Trace Plan { get; } = plan;
        public Func<MeasuredStep>? Measure { get; } = measure;
        public optim.Optimizer Optimizer { get; } = optim.SGD(modules.SelectMany(m => m.parameters()), 0.01);
        public List<double> Seconds { get; } = [];
        public List<long> Peaks { get; } = [];
        public float Loss { get; set; } = float.NaN;
    }

    public static Command Create(TextWriter output, TextWriter error)
    {
        var strategies = new StrategyOptions();
        var model = new Option<string>("--model")
        {
            Description = "mlp (uniform), hourglass (widths vary 16-fold), gpt (GPT layers), llama (Llama layers: rotary tables, grouped-query attention, SwiGLU); graphs: unet (long skips) or resnet (residual blocks).",
            DefaultValueFactory = _ => "mlp",
        };
        model.AcceptOnlyFromAmong([.. TrainModels.Names, .. TrainGraphs.Names]);
        var layers = Options.Count("--layers", "Stages (Linear + ReLU), default 32; unet: levels, default 3; resnet: blocks, default 8.", 1);
        var width = Options.Count("--width", "Width of the stages, default 1024; unet and resnet: channels, default 16.", 1);
        var batch = Options.Count("--batch", "Batch size, default 512; unet and resnet: 32.", 1);
        var steps = Options.Count("--steps", "Training steps per strategy, default 10.", 1);
        var sequence = Options.Count("--seq", "gpt and llama: tokens per sample, default 128.", 1);
        var seed = new Option<long>("--seed") { Description = "Seed of the weights and data.", DefaultValueFactory = _ => 0 };
        var which = new Option<string>("--strategy")
        {
            Description = $"Comma-separated, interleaved step by step: {string.Join(", ", Names)} (plain: no executor, the baseline of its bookkeeping).",
            DefaultValueFactory = _ => "storeall,periodic,revolve", // unet and resnet: storeall,periodic,optimal
        };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON." };
        var timeLimit = new Option<double>("--time-limit")
        {
            Description = "unet and resnet: the seconds the optimal strategy's plan may take, CP-SAT's search included (default 20).",
            DefaultValueFactory = _ => 20,
        };
        var trace = new Option<string?>("--trace") { Description = "Write the planned and the measured trace of one step of each scheduled strategy (JSON)." };
        var html = new Option<string?>("--html") { Description = "Write a report of the first scheduled strategy (store-all last): planned and measured memory and time of its operations." };
        var deviceOption = new Option<string>("--device")
        {
            Description = "cpu, or cuda (measured in CUDA's memory pool; needs libtorch's CUDA libraries: docs/torchsharp.md, \"GPUs\").",
            DefaultValueFactory = _ => "cpu",
        };
        deviceOption.AcceptOnlyFromAmong(TrainDevice.Names);
        var saveProfile = new Option<string?>("--save-profile")
        {
            Description = "Write the profiled model as a chain file (a graph file for unet and resnet), for remat plan and remat compare; written before training starts.",
        };
        var command = new Command("train", "Train a model on synthetic data with each strategy and measure memory and time.");
        foreach (var o in strategies.All.Concat<Option>([model, layers, width, batch, steps, sequence, seed, which, json, timeLimit, trace, html, deviceOption, saveProfile]))
            command.Options.Add(o);
        // The training runs on its own task, so that Ctrl-C reaches the cancellation token while it runs.
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            string modelName = parse.GetValue(model)!;
            bool isGraph = TrainGraphs.Names.Contains(modelName);
            string strategyList = isGraph && parse.GetResult(which) is null or { Implicit: true } ? "storeall,periodic,optimal" : parse.GetValue(which)!;
            var names = strategyList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            string[] known = isGraph ? GraphNames : Names;
            foreach (var n in names.Where(n => !known.Contains(n)))
                throw new UsageException($"--strategy: unknown strategy '{n}' for {modelName}; the strategies are {string.Join(", ", known)}.");
            string deviceName = parse.GetValue(deviceOption)!;
            if (deviceName == "cpu" && !MemoryMeter.IsSupported)
                throw new UsageException("remat train measures the CPU's memory through Linux's /proc; it runs on Linux only.");
            if (isGraph)
            {
                if (parse.GetValue(html) is not null)
                    throw new UsageException("--html reports chain models; for unet and resnet use --trace.");
                double seconds = parse.GetValue(timeLimit);
                if (!(seconds > 0 && seconds <= 86_400))
                    throw new UsageException($"--time-limit {seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}: give the solver between 0 and 86400 seconds.");
                Graph graph;
                List<Run> graphRuns;
                try
                {
                    (graph, graphRuns) = GraphRuns(modelName, names, parse.GetValue(layers) ?? (modelName == "unet" ? 3 : 8),
                        parse.GetValue(width) ?? 16, parse.GetValue(batch) ?? 32, parse.GetValue(strategies.Budget), parse.GetValue(seed), seconds, deviceName,
                        cancellation);
                }
                catch (OperationCanceledException) // in the solver's planning
                {
                    return Cli.Stopped(error, NothingWritten);
                }
                if (parse.GetValue(saveProfile) is { } graphProfile)
                    WriteFile(graphProfile, ChainJson.Serialize(graph));
                if (RoundRobin(graphRuns, parse.GetValue(steps) ?? 10, error, cancellation) is { } stopped)
                    return stopped;
                if (parse.GetValue(trace) is { } graphTrace)
                    WriteFile(graphTrace, Traces(graph.Name, graph.Count, graphRuns));
                var graphResults = Results(graphRuns);
                output.Write(parse.GetValue(json) ? Json(graphResults) : Table(graph.Name, graph.Count, graphResults));
                return 0;
            }
            int layerCount = parse.GetValue(layers) ?? 32, widthValue = parse.GetValue(width) ?? 1024, seqValue = parse.GetValue(sequence) ?? 128;
            int batchSize = parse.GetValue(batch) ?? 512, stepCount = parse.GetValue(steps) ?? 10;
            CheckSize(modelName, layerCount, widthValue, seqValue, batchSize, names.Length, deviceName);
            var device = TrainDevice.Open(deviceName);
            long s = parse.GetValue(seed);
            TrainModel Build() => OnDevice(TrainModels.Build(modelName, layerCount, widthValue, seqValue, s), m => m.Stages, device);
            var shape = Build();
            var (x, target) = Data(s, batchSize, shape.InputShape, shape.TargetShape, device);
            Tensor Loss(Tensor y) => nn.functional.mse_loss(y, target);
            var chain = Profiler.Profile(shape.Stages, x, name: modelName);
            if (parse.GetValue(saveProfile) is { } profileFile)
                WriteFile(profileFile, ChainJson.Serialize(chain));
            // Without --budget, optimal and auto plan to periodic's planned peak, so that the two compare at the same memory.
            long? budget = parse.GetValue(strategies.Budget) ?? (names.Any(n => n is "optimal" or "auto")
                ? Simulator.Run(chain, Strategies.Get("periodic").Create(chain, strategies.For("periodic", parse, null), null).Plan(chain)).PeakBytes
                : null);
            var runs = names.Select(name => Prepare(name, Build().Stages, chain, x, Loss, strategies.For(name, parse, budget), budget)).ToList();
            var warm = new ScheduleExecutor(shape.Stages);
            for (int i = 0; i < 3; i++) // warm the runtime and libtorch's threads so the first strategy is not penalised
                warm.Step(new StoreAll().Plan(chain), x, Loss);

            if (RoundRobin(runs, stepCount, error, cancellation) is { } code)
                return code;
            var results = Results(runs);
            if (parse.GetValue(trace) is { } traceFile)
                WriteFile(traceFile, Traces(chain.Name, chain.Length, runs));
            if (parse.GetValue(html) is { } htmlFile)
            {
                var first = runs.Where(r => r.Measure is not null).OrderBy(r => r.Name == "storeall").FirstOrDefault()
                            ?? throw new UsageException("--html reports a scheduled strategy: give one of storeall, periodic, revolve, chen, optimal.");
                var measuredStep = first.Measure!();
                Viz.HtmlReport.Write(htmlFile, Viz.VizApi.Describe(chain, first.Plan, budget) with { Measured = Viz.TraceView.Of(measuredStep.Trace) },
                    Viz.VizApi.Tradeoff(chain));
            }
            output.Write(parse.GetValue(json) ? Json(results) : Table(chain.Name, chain.Length, results));
            return 0;
        }, CancellationToken.None));
        return command;
    }

    /// <summary>
    /// Steps every strategy in turn, step i of each in an order that rotates, so that drift of the machine falls on all
    /// alike; the first step allocates the gradients and is left out. Returns 130 when stopped, else null.
    /// </summary>
    private static int? RoundRobin(List<Run> runs, int stepCount, TextWriter error, CancellationToken cancellation)
    {
        for (int i = 0; i <= stepCount; i++)
        {
            for (int j = 0; j < runs.Count && !cancellation.IsCancellationRequested; j++)
                TrainStep(runs[(i + j) % runs.Count], measured: i > 0);
            Progress(error, i, stepCount);
            if (cancellation.IsCancellationRequested)
            {
                error.WriteLine();
                return Cli.Stopped(error, NothingWritten);
            }
        }
        return null;
    }

    private const string NothingWritten = "no results were written";

    /// <summary>The strategies that plan graphs: store-all, periodic segments (<see cref="GraphSegments"/>) and optimal (CP-SAT).</summary>
    private static string[] GraphNames => [.. Strategies.All.Where(s => s.PlanGraph is not null).Select(s => s.Name)];

    /// <summary>
    /// Profiles a graph model and prepares its strategies, each on its own copy of the model: store-all; periodic, the
    /// graph cut into round(sqrt n) segments as a chain of blocks would be; optimal, CP-SAT (<see cref="CpSat.GraphPlanner"/>,
    /// <paramref name="seconds"/>) at <paramref name="budget"/>, by default periodic's planned peak, so the two compare at the same memory.
    /// </summary>
    private static (Graph Graph, List<Run> Runs) GraphRuns(string model, string[] names, int depth, int width, int batch, long? budget, long seed,
        double seconds, string deviceName, CancellationToken cancellation)
    {
        if (width <= 0 || width % TrainGraphs.ChannelMultiple != 0)
            throw new UsageException($"--width is {width}; the graph models need a positive multiple of {TrainGraphs.ChannelMultiple} channels: for other " +
                                     "counts, libtorch 2.10's oneDNN convolution gave wrong input gradients on this machine, with or without Remat " +
                                     "(docs/torchsharp.md, \"A libtorch fault\").");
        // An upper bound before anything is built: every node at the widest channels over the whole image, in fp32, twice
        // (output and saved), and a 3x3 convolution's weights, gradients and copy per strategy at every node.
        long nodes = TrainGraphs.NodeCount(model, depth);
        double widest = model == "unet" ? (double)width * (1 << Math.Min(depth, 5)) : width;
        double bytes = 8 * nodes * (batch * 32.0 * 32 * widest + 9 * widest * widest * (names.Length + 2));
        long max = TrainDevice.MaxModelBytes(deviceName);
        if (bytes > max)
            throw new UsageException($"this model needs up to {ByteSize.Format((long)Math.Min(bytes, long.MaxValue))} for its weights and activations, " +
                                     $"more than the {ByteSize.Format(max)} remat train allows on {deviceName}; use fewer --layers, a smaller --width or --batch.");
        var device = TrainDevice.Open(deviceName);
        TrainGraph Build() => OnDevice(TrainGraphs.Build(model, depth, width, seed), g => g.Modules, device);
        var shape = Build();
        var (x, target) = Data(seed, batch, shape.InputShape, shape.TargetShape, device);
        Tensor Loss(Tensor y) => nn.functional.mse_loss(y, target);
        var graph = Profiler.Profile(shape.Inputs, shape.Nodes, shape.Modules.SelectMany(m => m.parameters()), x, name: model, names: shape.NodeNames);
        Schedule Plan(string strategy, long? memory) =>
            Planner.Plan(graph, new PlanOptions { Strategy = strategy, BudgetBytes = memory, TimeLimit = TimeSpan.FromSeconds(seconds) }, cancellation).Schedule;
        long memory = budget ?? GraphSimulator.Run(graph, Plan("periodic", null)).PeakBytes;
        var warm = new GraphExecutor(graph, shape.Nodes);
        for (int i = 0; i < 3; i++) // warm the runtime and libtorch's threads so the first strategy is not penalised
            warm.Step(graph.StoreAll(), x, Loss);
        var runs = names.Select(name =>
        {
            var schedule = Plan(name, name == "optimal" ? memory : null);
            var copy = Build();
            var executor = new GraphExecutor(graph, copy.Nodes);
            return new Run(name, copy.Modules, () => executor.Step(schedule, x, Loss), GraphSimulator.Run(graph, schedule),
                () => executor.Measure(schedule, x, Loss), x);
        }).ToList();
        return (graph, runs);
    }

    /// <summary><paramref name="model"/> with its modules moved to <paramref name="device"/>.</summary>
    private static T OnDevice<T>(T model, Func<T, IEnumerable<nn.Module>> modules, Device device)
    {
        foreach (var module in modules(model))
            module.to(device);
        return model;
    }

    /// <summary>The synthetic regression's input and target for a batch of these shapes, drawn from the seed on the CPU, on the device.</summary>
    private static (Tensor X, Tensor Target) Data(long seed, int batch, long[] inputShape, long[] targetShape, Device device)
    {
        random.manual_seed(seed);
        return (randn([batch, .. inputShape]).to(device), randn([batch, .. targetShape]).to(device));
    }

    /// <summary>A strategy's step: by the executor for a scheduled strategy, plainly, or through the checkpointed module.</summary>
    private static Run Prepare(string name, nn.Module<Tensor, Tensor>[] stages, Chain chain, Tensor x, Func<Tensor, Tensor> loss,
        PlanOptions options, long? budget)
    {
        float ModuleStep(nn.Module<Tensor, Tensor> module)
        {
            using var scope = NewDisposeScope();
            var l = loss(module.forward(x));
            l.backward();
            return l.to_type(ScalarType.Float32).item<float>();
        }
        switch (name)
        {
            case "plain":
                return new Run(name, stages, () => ModuleStep(nn.Sequential(stages)), Simulator.Run(chain, new StoreAll().Plan(chain)), null, x);
            case "auto":
                // The library's module under an ordinary loss.backward(), as a user's model would run it.
                var auto = new CheckpointedSequential(stages, budget ?? throw new UsageException("auto plans to a memory budget: give --budget."));
                return new Run(name, stages, () => ModuleStep(auto), auto.PlanFor(x).Trace, null, x);
            default:
                // The budget plans optimal, chen and revolve's snapshots; it does not refuse the other strategies here.
                var plan = Simulator.Run(chain, Strategies.Get(name).Create(chain, options, budget).Plan(chain));
                var executor = new ScheduleExecutor(stages);
                return new Run(name, stages, () => executor.Step(plan.Schedule, x, loss), plan, () => executor.Measure(plan.Schedule, x, loss), x);
        }
    }

    private static void TrainStep(Run run, bool measured)
    {
        run.Optimizer.zero_grad();
        var watch = Stopwatch.StartNew();
        float loss = 0;
        long peak = run.Memory.PeakAbove(() => loss = run.Step()) + run.InputBytes;
        double seconds = watch.Elapsed.TotalSeconds;
        using (no_grad())
            run.Optimizer.step();
        run.Loss = loss;
        if (!measured)
            return;
        run.Seconds.Add(seconds);
        run.Peaks.Add(peak);
    }

    /// <summary>
    /// Each strategy's median step and its spread (the interquartile range over the median); an overhead against store-all
    /// is within the noise when it is smaller than the two spreads together. The measured peak is the median step's:
    /// every step runs the same operations on the same tensors, and a single step's rise can include memory that other
    /// threads of the process touched meanwhile (docs/torchsharp.md); the worst step's is reported beside it.
    /// </summary>
    private static List<Result> Results(List<Run> runs)
    {
        static T At<T>(T[] sorted, double q) => sorted[(int)Math.Round(q * (sorted.Length - 1))];
        static (double Median, double Spread) Stats(List<double> seconds)
        {
            var sorted = seconds.Order().ToArray();
            if (sorted.Length == 0)
                return (double.NaN, double.NaN);
            double median = At(sorted, 0.5);
            return (median, (At(sorted, 0.75) - At(sorted, 0.25)) / median);
        }
        (double Median, double Spread)? storeAll = runs.FirstOrDefault(r => r.Name == "storeall") is { } b ? Stats(b.Seconds) : null;
        return [.. runs.Select(r =>
        {
            var (median, spread) = Stats(r.Seconds);
            double overhead = storeAll is { } sa && r.Name != "storeall" ? median / sa.Median - 1 : double.NaN;
            bool noise = storeAll is { } sb && r.Name != "storeall" && Math.Abs(overhead) < spread + sb.Spread;
            var peaks = r.Peaks.Order().DefaultIfEmpty().ToArray();
            return new Result(r.Name, At(peaks, 0.5), peaks[^1], r.Plan.PeakBytes, median, spread, overhead, noise, r.Loss, r.Memory.Source);
        })];
    }

    /// <summary>For every scheduled strategy, one measured step beside its plan, operation by operation.</summary>
    private static string Traces(string? model, int stages, List<Run> runs) => System.Text.Json.JsonSerializer.Serialize(new
    {
        chain = model,
        stages,
        strategies = runs.Where(r => r.Measure is not null).Select(run => new
        {
            strategy = run.Name,
            ops = run.Plan.Schedule.Ops.Select(op => op.ToString()),
            planned = Viz.TraceView.Of(run.Plan),
            measured = Viz.TraceView.Of(run.Measure!().Trace),
        }).ToList(),
    }, Indented) + Environment.NewLine;

    private static void WriteFile(string path, string text)
    {
        try
        {
            File.WriteAllText(path, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"cannot write '{path}': {e.Message}");
        }
    }

    /// <summary>
    /// Refuses sizes that would not fit in memory: the parameters with their gradients, and the activations of a
    /// store-all step: for the MLPs 16 bytes per element (widest stages 4 times --width for hourglass); for a GPT
    /// layer in fp32, 66 bytes per token per hidden unit and 9 per attention score (Korthikanti et al., scaled to fp32).
    /// </summary>
    private static void CheckSize(string model, long layers, long width, long sequence, long batch, int strategies, string device)
    {
        double widest = model == "hourglass" ? 4.0 * width : width;
        bool transformer = model is "gpt" or "llama";
        double parameters = layers * widest * widest * (transformer ? 12 : model == "hourglass" ? 2 : 1);
        double activations = transformer
            ? (double)batch * sequence * layers * (66.0 * width + 9.0 * Math.Max(1, width / 64) * sequence)
            : batch * widest * layers * 16;
        double bytes = 8 * parameters * (strategies + 1) + activations; // every strategy has its own copy of the model
        long max = TrainDevice.MaxModelBytes(device);
        if (bytes > max)
            throw new UsageException($"this model needs about {ByteSize.Format((long)Math.Min(bytes, long.MaxValue))} for its parameters, " +
                                     $"gradients and activations, more than the {ByteSize.Format(max)} remat train allows on {device}; " +
                                     "use fewer --layers, a smaller --width or --batch.");
    }

    private static void Progress(TextWriter error, int done, int steps)
    {
        if (!ReferenceEquals(error, Console.Error) || Console.IsErrorRedirected)
            return;
        int filled = 30 * done / steps;
        error.Write($"\rsteps [{new string('#', filled)}{new string('.', 30 - filled)}] {done}/{steps}");
        if (done == steps)
            error.WriteLine();
    }

    private static string Table(string? model, int stages, List<Result> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"model: {model}, {stages} stages; strategies interleaved step by step; peaks are the step's rise of the {results.FirstOrDefault()?.Source ?? "memory"} plus the input (as planned), the median step's and the worst (first step left out)");
        sb.AppendLine($"{"strategy",-10} {"measured peak",14} {"worst step",11} {"planned peak",13} {"median step",12} {"spread",7} {"overhead",9} {"final loss",12}");
        foreach (var r in results)
            sb.AppendLine($"{r.Strategy,-10} {ByteSize.Format(r.MeasuredPeakBytes),14} {ByteSize.Format(r.WorstPeakBytes),11} {ByteSize.Format(r.PlannedPeakBytes),13} " +
                          $"{r.MedianStepSeconds * 1000,9:0.0} ms {"±" + (r.Spread * 50).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%",7} " +
                          $"{(double.IsNaN(r.Overhead) ? "-" : PlanReport.Percent(r.Overhead) + (r.WithinNoise ? "~" : "")),9} {r.FinalLoss,12:0.000000}");
        sb.AppendLine("spread: half the interquartile range of the step times, over the median.");
        if (results.Any(r => r.WithinNoise))
            sb.AppendLine("~: the overhead is smaller than the spreads of the two strategies together: within the noise of this machine.");
        return sb.ToString();
    }

    private static string Json(List<Result> results) => System.Text.Json.JsonSerializer.Serialize(results.Select(r => new
    {
        strategy = r.Strategy,
        measuredPeakBytes = r.MeasuredPeakBytes,
        worstStepPeakBytes = r.WorstPeakBytes,
        plannedPeakBytes = r.PlannedPeakBytes,
        medianStepSeconds = r.MedianStepSeconds,
        spread = double.IsNaN(r.Spread) ? 0 : r.Spread,
        overhead = double.IsNaN(r.Overhead) ? (double?)null : r.Overhead,
        overheadWithinNoise = r.WithinNoise,
        finalLoss = r.FinalLoss,
    }), Indented) + Environment.NewLine;

    private static readonly System.Text.Json.JsonSerializerOptions Indented = new(System.Text.Json.JsonSerializerDefaults.Web) { WriteIndented = true };
}
