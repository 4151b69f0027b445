using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Remat.Transformers;

namespace Remat.Cli;

/// <summary><c>remat memory</c>: the training memory of a transformer on one GPU, term by term, and whether it fits.</summary>
internal static class MemoryCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new TransformerSource();
        var seq = Options.Count("--seq", "s, the sequence length (default: the preset's, else 2048).", 1);
        var micro = Options.Count("--micro-batch", "b, the micro-batch (default 1).", 1);
        var microBatches = Options.Count("--micro-batches", "The micro-batches of a step (default: at least --pp); 1F1B holds min(p, this) in flight.", 1);
        var tp = Options.Count("--tp", "t, the tensor-parallel size (default: the preset's, else 1).", 1);
        var pp = Options.Count("--pp", "p, the pipeline-parallel size (default: the preset's, else 1).", 1);
        var sp = new Option<bool>("--sp") { Description = "Sequence parallelism." };
        var interleave = Options.Count("--interleave", "m, model chunks per pipeline stage (interleaved 1F1B; default 1).", 1);
        var dp = Options.Count("--dp", "d, the data-parallel size (default 1).", 1);
        var zero = new Option<int>("--zero") { Description = "ZeRO stage 0-3 over data parallelism (default 0)." };
        var recompute = new Option<string>("--recompute") { Description = "none, selective or full.", DefaultValueFactory = _ => "none" };
        recompute.AcceptOnlyFromAmong("none", "selective", "full");
        var recomputeLayers = new Option<int>("--recompute-layers") { Description = "Layers per pipeline stage fully recomputed on top of --recompute." };
        var flash = new Option<bool>("--flash") { Description = "Fused (flash) attention: no s^2 tensors." };
        var dropout = new Option<string?>("--dropout") { Description = "on or off (default: the preset's, else on)." };
        dropout.AcceptOnlyFromAmong("on", "off");
        var bytes = Options.Count("--activation-bytes", "Bytes per activation: 2 (fp16/bf16, default) or 4 (fp32).", 1);
        var gpu = Options.Size("--gpu-memory", "The GPU's memory (default 80GiB).");
        var recommend = new Option<bool>("--recommend") { Description = "Name the cheapest recomputation that fits the GPU (by predicted time with --gpu, else by FLOPs)." };
        var gpuModel = new Option<string?>("--gpu") { Description = "Predict the step time on this GPU (roofline): " + string.Join(", ", Accelerator.All.Select(g => g.Name)) + "." };
        gpuModel.AcceptOnlyFromAmong([.. Accelerator.All.Select(g => g.Name)]);
        var kernels = new Option<string>("--attention") { Description = "The attention kernels the time assumes without --flash: unfused (default) or fused (fused softmax).", DefaultValueFactory = _ => "unfused" };
        kernels.AcceptOnlyFromAmong("unfused", "fused");
        var json = new Option<bool>("--json") { Description = "Print the estimate as JSON." };
        var command = new Command("memory", "Training memory of a transformer per GPU: activations by tensor, model states, and the fit.");
        foreach (var o in model.All.Concat([seq, micro, microBatches, tp, pp, sp, interleave, dp, zero,
                     recompute, recomputeLayers, flash, dropout, bytes, gpu, gpuModel, kernels, recommend, json]))
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            var (named, shape) = model.Build(parse);
            var activations = new ActivationSetup(
                parse.GetValue(seq) ?? named?.Sequence ?? 2048,
                parse.GetValue(micro) ?? 1,
                parse.GetValue(tp) ?? named?.TensorParallel ?? 1,
                parse.GetValue(sp),
                parse.GetValue(flash),
                parse.GetValue(dropout) is { } d ? d == "on" : named?.Dropout ?? true,
                parse.GetValue(bytes) ?? 2);
            var setup = new TrainingSetup(activations,
                parse.GetValue(pp) ?? named?.PipelineParallel ?? 1,
                parse.GetValue(interleave) ?? 1,
                parse.GetValue(dp) ?? 1,
                parse.GetValue(zero),
                Enum.Parse<Recompute>(parse.GetValue(recompute)!, ignoreCase: true),
                parse.GetValue(recomputeLayers),
                parse.GetValue(microBatches) ?? 0);
            long gpuBytes = parse.GetValue(gpu) ?? 80L << 30;
            var timing = parse.GetValue(gpuModel) is { } g
                ? new Timing(Accelerator.Find(g)!, parse.GetValue(kernels) == "fused" ? AttentionKernels.FusedSoftmax : AttentionKernels.Unfused)
                : null;
            MemoryEstimate estimate;
            (TrainingSetup Setup, MemoryEstimate Estimate)? advice = null;
            try
            {
                estimate = TrainingMemory.Estimate(shape, setup);
                if (parse.GetValue(recommend))
                    advice = TrainingMemory.Recommend(shape, setup, gpuBytes, timing is null ? null : o => timing.Of(shape, o).RecomputeOverhead);
            }
            catch (ArgumentException e)
            {
                throw new UsageException(e.Message);
            }
            output.Write(parse.GetValue(json)
                ? Json(named?.Name, shape, setup, estimate, gpuBytes, parse.GetValue(recommend), advice, timing)
                : Text(named?.Name, shape, setup, estimate, gpuBytes, parse.GetValue(recommend), advice, timing));
            return 0;
        });
        return command;
    }

    /// <summary>The GPU and attention kernels the time is predicted for (<see cref="StepTime"/>).</summary>
    private sealed record Timing(Accelerator Gpu, AttentionKernels Kernels)
    {
        public TimeEstimate Of(TransformerShape shape, TrainingSetup setup) => StepTime.Estimate(shape, setup, Gpu, Kernels);

        public static string Name(AttentionKernels kernels) => kernels switch
        {
            AttentionKernels.Flash => "flash attention",
            AttentionKernels.FusedSoftmax => "fused softmax, unfused attention",
            _ => "unfused attention",
        };
    }

    private static string Text(string? preset, TransformerShape shape, TrainingSetup setup, MemoryEstimate e, long gpu, bool recommend,
        (TrainingSetup Setup, MemoryEstimate Estimate)? advice, Timing? timing)
    {
        var a = setup.Activations;
        var sb = new StringBuilder();
        sb.AppendLine($"model: {preset ?? "custom"}: L={shape.Layers} h={shape.Hidden} a={shape.Heads} f={shape.FfnSize} v={shape.Vocab}" +
                      (shape.KeyValueHeads != shape.Heads ? $" kv-heads={shape.KeyValueHeads}" : "") + (shape.GatedMlp ? " SwiGLU" : "") +
                      $", {shape.Parameters / 1e9:0.##}B parameters");
        sb.AppendLine($"setup: s={a.Sequence} b={a.MicroBatch} t={a.TensorParallel} p={setup.PipelineParallel} d={setup.DataParallel}" +
                      (a.SequenceParallel ? " sequence-parallel" : "") + (a.FlashAttention ? " flash" : "") + (a.Dropout ? "" : " no-dropout") +
                      $", {TrainingMemory.Name(setup.Recompute)}" + (setup.FullyRecomputedLayers > 0 ? $" + {setup.FullyRecomputedLayers} full layers per stage" : "") +
                      (setup.ZeroStage > 0 ? $", ZeRO-{setup.ZeroStage}" : ""));
        sb.AppendLine();
        sb.AppendLine("activations of one layer:");
        foreach (var t in e.LayerTerms)
            sb.AppendLine($"  {t.Name,-48} {Bytes(t.Bytes),12}");
        sb.AppendLine($"  {"per layer",-48} {Bytes(e.ActivationBytesPerLayer),12}");
        sb.AppendLine("activations of the first pipeline stage:");
        foreach (var t in e.Activations)
            sb.AppendLine($"  {t.Name,-48} {Bytes(t.Bytes),12}");
        sb.AppendLine($"  {"total",-48} {Bytes(e.ActivationBytesTotal),12}");
        sb.AppendLine("model states (mixed-precision Adam):");
        foreach (var t in e.ModelStates)
            sb.AppendLine($"  {t.Name,-48} {Bytes(t.Bytes),12}");
        sb.AppendLine();
        double margin = gpu - e.TotalBytes;
        sb.AppendLine($"total {Bytes(e.TotalBytes)} on a {ByteSize.Format(gpu)} GPU: " +
                      (margin >= 0 ? $"fits, {Bytes(margin)} to spare" : $"does not fit, {Bytes(-margin)} over") +
                      $"; recompute costs {e.RecomputeOverhead * 100:0.#}% extra compute (FLOPs)");
        if (timing is not null)
        {
            var time = timing.Of(shape, setup);
            sb.AppendLine($"time on an {timing.Gpu.Name.ToUpperInvariant()} ({Timing.Name(time.Kernels)}; roofline): a micro-batch through the " +
                          $"stage's layers {time.StepSeconds * 1e3:0.##} ms (a layer's forward {time.ForwardSeconds * 1e3:0.###} ms, backward " +
                          $"{time.BackwardSeconds * 1e3:0.###} ms); recompute costs {time.RecomputeOverhead * 100:0.#}% extra time");
        }
        if (recommend)
            sb.AppendLine(advice is { } r
                ? $"recommended: {TrainingMemory.Name(r.Setup.Recompute)}" + (r.Setup.FullyRecomputedLayers > 0 ? $" + {r.Setup.FullyRecomputedLayers} fully recomputed layers per stage" : "") +
                  $": {Bytes(r.Estimate.TotalBytes)}, " + (timing is null
                      ? $"{r.Estimate.RecomputeOverhead * 100:0.#}% extra compute"
                      : $"{timing.Of(shape, r.Setup).RecomputeOverhead * 100:0.#}% extra time ({r.Estimate.RecomputeOverhead * 100:0.#}% extra FLOPs)")
                : "recommended: nothing fits; even full recompute needs more. Add tensor or pipeline parallelism, ZeRO, or a smaller micro-batch.");
        return sb.ToString();
    }

    private static string Bytes(double bytes) => ByteSize.Format((long)Math.Round(bytes));

    private static string Json(string? preset, TransformerShape shape, TrainingSetup setup, MemoryEstimate e, long gpu, bool recommend,
        (TrainingSetup Setup, MemoryEstimate Estimate)? advice, Timing? timing) => PlanReport.Json(w =>
    {
        void Terms(string name, IEnumerable<MemoryTerm> terms)
        {
            w.WriteStartArray(name);
            foreach (var t in terms)
            {
                w.WriteStartObject();
                w.WriteString("name", t.Name);
                w.WriteNumber("bytes", t.Bytes);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteStartObject();
        if (preset is null) w.WriteNull("preset"); else w.WriteString("preset", preset);
        w.WriteNumber("parameters", shape.Parameters);
        w.WriteNumber("activationBytesPerLayer", e.ActivationBytesPerLayer);
        w.WriteNumber("activationBytesTotal", e.ActivationBytesTotal);
        w.WriteNumber("modelStateBytes", e.ModelStateBytes);
        w.WriteNumber("totalBytes", e.TotalBytes);
        w.WriteNumber("gpuBytes", gpu);
        w.WriteBoolean("fits", e.TotalBytes <= gpu);
        w.WriteNumber("marginBytes", gpu - e.TotalBytes);
        w.WriteNumber("recomputeOverhead", e.RecomputeOverhead);
        if (timing is not null)
        {
            var time = timing.Of(shape, setup);
            w.WriteStartObject("time");
            w.WriteString("gpu", timing.Gpu.Name);
            w.WriteString("attention", time.Kernels.ToString().ToLower(CultureInfo.InvariantCulture));
            w.WriteNumber("stepSeconds", time.StepSeconds);
            w.WriteNumber("layerForwardSeconds", time.ForwardSeconds);
            w.WriteNumber("layerBackwardSeconds", time.BackwardSeconds);
            w.WriteNumber("recomputeOverhead", time.RecomputeOverhead);
            w.WriteEndObject();
        }
        Terms("layerTerms", e.LayerTerms);
        Terms("activationTerms", e.Activations);
        Terms("modelStateTerms", e.ModelStates);
        if (recommend)
        {
            if (advice is { } r)
            {
                w.WriteStartObject("recommendation");
                w.WriteString("recompute", r.Setup.Recompute.ToString().ToLower(CultureInfo.InvariantCulture));
                w.WriteNumber("fullyRecomputedLayers", r.Setup.FullyRecomputedLayers);
                w.WriteNumber("totalBytes", r.Estimate.TotalBytes);
                w.WriteNumber("recomputeOverhead", r.Estimate.RecomputeOverhead);
                if (timing is not null)
                    w.WriteNumber("timeOverhead", timing.Of(shape, r.Setup).RecomputeOverhead);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("recommendation");
            }
        }
        w.WriteEndObject();
    }) + Environment.NewLine;
}
