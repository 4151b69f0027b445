using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Remat.Planners;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Cli;

/// <summary>
/// <c>remat train</c>: real training steps of a synthetic regression on TorchSharp, one strategy after the other,
/// with measured and planned peak memory, step time and loss for each.
/// </summary>
internal static class TrainCommand
{
    private static readonly string[] Names = [.. Strategies.Names, "auto", "plain"];

    private sealed record Result(string Strategy, long MeasuredPeakBytes, long PlannedPeakBytes, double MedianStepSeconds, double Overhead, float FinalLoss);

    public static Command Create(TextWriter output, TextWriter error)
    {
        var strategies = new StrategyOptions();
        var model = new Option<string>("--model") { Description = "mlp (uniform), hourglass (widths vary 16-fold) or gpt (GPT layers).", DefaultValueFactory = _ => "mlp" };
        model.AcceptOnlyFromAmong(TrainModels.Names);
        var layers = Options.Count("--layers", "Stages (Linear + ReLU), default 32.", 1);
        var width = Options.Count("--width", "Width of the stages, default 1024.", 1);
        var batch = Options.Count("--batch", "Batch size, default 512.", 1);
        var steps = Options.Count("--steps", "Training steps per strategy, default 10.", 1);
        var sequence = Options.Count("--seq", "gpt: tokens per sample, default 128.", 1);
        var seed = new Option<long>("--seed") { Description = "Seed of the weights and data.", DefaultValueFactory = _ => 0 };
        var which = new Option<string>("--strategy")
        {
            Description = $"Comma-separated, run in turn: {string.Join(", ", Names)} (plain: no executor, the baseline of its bookkeeping).",
            DefaultValueFactory = _ => "storeall,periodic,revolve",
        };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON." };
        var command = new Command("train", "Train a model on synthetic data with each strategy and measure memory and time.");
        foreach (var o in strategies.All.Concat<Option>([model, layers, width, batch, steps, sequence, seed, which, json]))
            command.Options.Add(o);
        // The training runs on its own task, so that Ctrl-C reaches the cancellation token while it runs.
        command.SetAction((parse, cancellation) => Task.Run(() =>
        {
            var names = parse.GetValue(which)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var n in names.Where(n => !Names.Contains(n)))
                throw new UsageException($"--strategy: unknown strategy '{n}'; the strategies are {string.Join(", ", Names)}.");
            if (!MemoryMeter.IsSupported)
                throw new UsageException("remat train measures memory through Linux's /proc; it runs on Linux only.");
            MemoryMeter.Initialize();
            string modelName = parse.GetValue(model)!;
            int layerCount = parse.GetValue(layers) ?? 32, widthValue = parse.GetValue(width) ?? 1024, seqValue = parse.GetValue(sequence) ?? 128;
            int batchSize = parse.GetValue(batch) ?? 512, stepCount = parse.GetValue(steps) ?? 10;
            CheckSize(modelName, layerCount, widthValue, seqValue, batchSize);
            long s = parse.GetValue(seed);
            TrainModel Build() => TrainModels.Build(modelName, layerCount, widthValue, seqValue, s);
            var shape = Build();
            random.manual_seed(s);
            var x = randn([batchSize, .. shape.InputShape]);
            var target = randn([batchSize, .. shape.TargetShape]);
            Tensor Loss(Tensor y) => nn.functional.mse_loss(y, target);
            var chain = Profiler.Profile(shape.Stages, x, name: modelName);
            var warmStep = new ScheduleExecutor(shape.Stages);
            for (int i = 0; i < 3; i++) // warm the runtime and libtorch's threads so the first strategy is not penalised
                warmStep.Step(new StoreAll().Plan(chain), x, Loss);
            long? budget = parse.GetValue(strategies.Budget);

            var results = new List<Result>();
            foreach (string name in names)
            {
                var stages = Build().Stages;
                Func<float> step;
                Trace plan;
                if (name == "plain")
                {
                    plan = Simulator.Run(chain, new StoreAll().Plan(chain));
                    step = () =>
                    {
                        using var scope = NewDisposeScope();
                        var loss = Loss(stages.Aggregate(x, (h, m) => m.forward(h)));
                        loss.backward();
                        return loss.item<float>();
                    };
                }
                else if (name == "auto")
                {
                    // The library's module under an ordinary loss.backward(), as a user's model would run it.
                    var auto = new CheckpointedSequential(stages, budget ?? throw new UsageException("auto plans to a memory budget: give --budget."));
                    plan = auto.PlanFor(x).Trace;
                    step = () =>
                    {
                        using var scope = NewDisposeScope();
                        var loss = Loss(auto.forward(x));
                        loss.backward();
                        return loss.item<float>();
                    };
                }
                else
                {
                    // The budget plans optimal, chen and revolve's snapshots; it does not refuse the other strategies here.
                    var strategy = Strategies.Get(name);
                    plan = Simulator.Run(chain, strategy.Create(chain, strategies.For(name, parse, budget), budget).Plan(chain));
                    var executor = new ScheduleExecutor(stages);
                    step = () => executor.Step(plan.Schedule, x, Loss);
                }
                results.Add(Train(name, stages, step, plan, stepCount, error, results.FirstOrDefault(r => r.Strategy == "storeall"), cancellation));
                if (cancellation.IsCancellationRequested)
                {
                    error.WriteLine();
                    error.WriteLine("remat: stopped; no results were written.");
                    return 130;
                }
            }
            output.Write(parse.GetValue(json) ? Json(results) : Table(chain, results));
            return 0;
        }, CancellationToken.None));
        return command;
    }

    /// <summary>The largest memory <c>remat train</c> plans to use: a model that needs more is refused before it is built.</summary>
    public const long MaxModelBytes = 16L << 30;

    /// <summary>
    /// Refuses sizes that would not fit in memory: the parameters with their gradients, and the activations of a
    /// store-all step: for the MLPs 16 bytes per element (widest stages 4 times --width for hourglass); for a GPT
    /// layer in fp32, 66 bytes per token per hidden unit and 9 per attention score (Korthikanti et al., scaled to fp32).
    /// </summary>
    private static void CheckSize(string model, long layers, long width, long sequence, long batch)
    {
        double widest = model == "hourglass" ? 4.0 * width : width;
        double parameters = layers * widest * widest * (model == "gpt" ? 12 : model == "hourglass" ? 2 : 1);
        double activations = model == "gpt"
            ? (double)batch * sequence * layers * (66.0 * width + 9.0 * Math.Max(1, width / 64) * sequence)
            : batch * widest * layers * 16;
        double bytes = 8 * parameters + activations;
        if (bytes > MaxModelBytes)
            throw new UsageException($"this model needs about {ByteSize.Format((long)Math.Min(bytes, long.MaxValue))} for its parameters, " +
                                     $"gradients and activations, more than the {ByteSize.Format(MaxModelBytes)} remat train allows; " +
                                     "use fewer --layers, a smaller --width or --batch.");
    }

    /// <summary>Runs the steps with SGD; the first step (which allocates the gradients) is left out of the figures.</summary>
    private static Result Train(string name, nn.Module<Tensor, Tensor>[] stages, Func<float> step, Trace plan, int steps, TextWriter error, Result? storeAll,
        CancellationToken cancellation)
    {
        var parameters = stages.SelectMany(m => m.parameters()).ToList();
        var optimizer = optim.SGD(parameters, 0.01);
        var times = new List<double>();
        long peak = 0;
        float loss = float.NaN;
        for (int i = 0; i <= steps && !cancellation.IsCancellationRequested; i++)
        {
            optimizer.zero_grad();
            var watch = Stopwatch.StartNew();
            long p = MemoryMeter.PeakAbove(() => loss = step());
            double seconds = watch.Elapsed.TotalSeconds;
            using (no_grad())
                optimizer.step();
            if (i > 0)
            {
                times.Add(seconds);
                peak = Math.Max(peak, p);
            }
            Progress(error, name, i, steps);
        }
        times.Sort();
        double median = times.Count == 0 ? double.NaN : times[times.Count / 2];
        return new Result(name, peak, plan.PeakBytes, median, storeAll is null ? double.NaN : median / storeAll.MedianStepSeconds - 1, loss);
    }

    private static void Progress(TextWriter error, string name, int done, int steps)
    {
        if (!ReferenceEquals(error, Console.Error) || Console.IsErrorRedirected)
            return;
        int filled = 30 * done / steps;
        error.Write($"\r{name,-10} [{new string('#', filled)}{new string('.', 30 - filled)}] {done}/{steps}");
        if (done == steps)
            error.WriteLine();
    }

    private static string Table(Chain chain, List<Result> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"model: {chain.Name}, {chain.Length} stages; peaks are the step's rise of the resident set (first step left out)");
        sb.AppendLine($"{"strategy",-10} {"measured peak",14} {"planned peak",13} {"median step",12} {"overhead",9} {"final loss",12}");
        foreach (var r in results)
            sb.AppendLine($"{r.Strategy,-10} {ByteSize.Format(r.MeasuredPeakBytes),14} {ByteSize.Format(r.PlannedPeakBytes),13} " +
                          $"{r.MedianStepSeconds * 1000,9:0.0} ms {(double.IsNaN(r.Overhead) ? "-" : PlanReport.Percent(r.Overhead)),9} {r.FinalLoss,12:0.000000}");
        return sb.ToString();
    }

    private static string Json(List<Result> results) => PlanReport.Json(w =>
    {
        w.WriteStartArray();
        foreach (var r in results)
        {
            w.WriteStartObject();
            w.WriteString("strategy", r.Strategy);
            w.WriteNumber("measuredPeakBytes", r.MeasuredPeakBytes);
            w.WriteNumber("plannedPeakBytes", r.PlannedPeakBytes);
            w.WriteNumber("medianStepSeconds", r.MedianStepSeconds);
            if (double.IsNaN(r.Overhead)) w.WriteNull("overhead"); else w.WriteNumber("overhead", r.Overhead);
            w.WriteNumber("finalLoss", r.FinalLoss);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }) + Environment.NewLine;
}
