using System.Text.Json;
using Remat.Transformers;

namespace Remat.Tests;

public class TrainingMemoryTests
{
    private static readonly TransformerShape Gpt22B = TransformerPreset.Find("gpt-22b")!.Shape;

    private static void Close(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-9 * Math.Abs(expected), $"{what}: expected {expected}, got {actual}");

    [Fact]
    public void Under_1F1B_the_first_stage_holds_L_layers_and_interleaving_multiplies_by_1_plus_p_minus_1_over_pm()
    {
        // s b h = 2048 * 1 * 6144; with t = 8 and sequence parallelism a layer is sbh (34/t + 5as/(ht)).
        var act = new ActivationSetup(2048, 1, 8, SequenceParallel: true);
        double layer = 2048.0 * 6144 * (34.0 / 8 + 5.0 * 64 * 2048 / (6144 * 8));
        var plain = TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act, PipelineParallel: 4));
        Close(48 * layer, plain.Activations[0].Bytes, "1F1B, p = 4");
        var interleaved = TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act, PipelineParallel: 4, InterleavedChunks: 3));
        Close(48 * layer * (1 + 3.0 / 12), interleaved.Activations[0].Bytes, "interleaved, p = 4, m = 3");
        // The embedding dropout masks: p micro-batches of sbh bytes, split by t under sequence parallelism.
        Close(4 * 2048.0 * 6144 / 8, plain.Activations.Single(x => x.Name.StartsWith("embedding")).Bytes, "embedding dropout");
    }

    [Fact]
    public void A_step_of_fewer_micro_batches_than_stages_holds_only_those_in_flight()
    {
        var act = new ActivationSetup(2048, 1, 8, SequenceParallel: true);
        var all = TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act, PipelineParallel: 4));
        var two = TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act, PipelineParallel: 4, MicroBatches: 2));
        var many = TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act, PipelineParallel: 4, MicroBatches: 64));
        Close(all.Activations[0].Bytes / 2, two.Activations[0].Bytes, "2 micro-batches in flight of p = 4");
        Close(all.ActivationBytesTotal, many.ActivationBytesTotal, "64 micro-batches: p = 4 in flight");
        Assert.Contains("2 micro-batches in flight", two.Activations[0].Name);
        Assert.Throws<ArgumentException>(() => TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act, PipelineParallel: 4, MicroBatches: -1)));
    }

    [Fact]
    public void Without_pipelining_the_output_layer_adds_4sbh_over_t_times_1_plus_v_over_h()
    {
        // Korthikanti et al. 2022, section 4.3, with sequence parallelism: final layer norm and output layer inputs
        // (2sbh/t each) and fp32 logits (4sbv/t).
        var act = new ActivationSetup(2048, 2, 8, SequenceParallel: true);
        var e = TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act));
        double sbh = 2048.0 * 2 * 6144;
        double output = e.Activations.Where(x => x.Name is "final layer norm input" or "output layer input" or "logits (fp32, for the loss)").Sum(x => x.Bytes);
        Close(4 * sbh / 8 * (1 + 51200.0 / 6144), output, "output layer");
    }

    [Fact]
    public void Mixed_precision_Adam_takes_16_bytes_per_parameter_and_ZeRO_shards_it_stage_by_stage()
    {
        var shape = new TransformerShape(4, 256, 4, 1000);
        double p = 4 * shape.LayerParameters + 1000.0 * 256; // one pipeline stage, t = 1: layers and the embedding
        double Bytes(int zero) => TrainingMemory.Estimate(shape, new TrainingSetup(new ActivationSetup(128, 1), DataParallel: 8, ZeroStage: zero)).ModelStateBytes;
        Close(16 * p, Bytes(0), "no ZeRO");
        Close((2 + 2 + 12.0 / 8) * p, Bytes(1), "ZeRO-1 shards the optimizer states");
        Close((2 + 14.0 / 8) * p, Bytes(2), "ZeRO-2 also the gradients");
        Close(16.0 / 8 * p, Bytes(3), "ZeRO-3 also the weights");
    }

    [Fact]
    public void A_GPT_layer_has_12h2_plus_13h_parameters()
    {
        // QKV 3h^2 + 3h, projection h^2 + h, MLP 8h^2 + 5h, two layer norms 4h.
        var shape = new TransformerShape(1, 512, 8, 100);
        Assert.Equal(12L * 512 * 512 + 13 * 512, shape.LayerParameters);
    }

    [Fact]
    public void Recompute_costs_follow_the_flops_model()
    {
        var act = new ActivationSetup(2048, 1, 8);
        double s = 2048, h = 6144, L = 48, v = 51200;
        double model = 72 * L * s * h * h * (1 + s / (6 * h) + v / (12 * h * L));
        Close(24 * L * s * h * h * (1 + s / (6 * h)) / model, TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act, Recompute: Recompute.Full)).RecomputeOverhead, "full");
        Close(4 * L * s * s * h / model, TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act, Recompute: Recompute.Selective)).RecomputeOverhead, "selective");
        Assert.Equal(0, TrainingMemory.Estimate(Gpt22B, new TrainingSetup(act)).RecomputeOverhead);
    }

    [Fact]
    public void The_recommendation_is_the_cheapest_setting_that_fits()
    {
        var setup = new TrainingSetup(new ActivationSetup(2048, 1, 8, SequenceParallel: true), PipelineParallel: 8);
        var shape = TransformerPreset.Find("gpt-175b")!.Shape;
        var none = TrainingMemory.Estimate(shape, setup);
        var selective = TrainingMemory.Estimate(shape, setup with { Recompute = Recompute.Selective });
        // A GPU just big enough for selective recompute, too small for none.
        double gpu = (none.TotalBytes + selective.TotalBytes) / 2;
        var advice = TrainingMemory.Recommend(shape, setup, gpu);
        Assert.NotNull(advice);
        Assert.True(advice.Value.Estimate.TotalBytes <= gpu);
        Assert.True(advice.Value.Estimate.RecomputeOverhead <= selective.RecomputeOverhead);
        Assert.Null(TrainingMemory.Recommend(shape, setup, 1 << 20));
    }

    [Theory]
    [InlineData("--preset", "gpt-9000", "unknown model")]
    [InlineData("--layers", "10", "give a model")]
    [InlineData("--preset", "gpt-22b", "--tp", "5", "tensor-parallel size (5) must divide heads")]
    [InlineData("--preset", "gpt-22b", "--pp", "5", "pipeline-parallel size (5) must divide the layers")]
    [InlineData("--layers", "2", "--hidden", "100", "--heads", "3", "must divide hidden")]
    [InlineData("--preset", "gpt-22b", "--zero", "4", "ZeRO stage")]
    public void Bad_shapes_and_setups_exit_2_with_the_reason(params string[] args)
    {
        var error = new StringWriter();
        int code = Cli.Cli.Run(["memory", .. args[..^1]], new StringWriter(), error);
        Assert.Equal(Cli.Cli.UsageError, code);
        Assert.Contains(args[^1], error.ToString());
    }

    [Fact]
    public void Memory_json_has_the_per_layer_and_first_stage_activation_bytes()
    {
        var output = new StringWriter();
        int code = Cli.Cli.Run(["memory", "--preset", "gpt-22b", "--sp", "--recompute", "selective", "--json"], output, new StringWriter());
        Assert.Equal(0, code);
        var root = JsonDocument.Parse(output.ToString()).RootElement;
        Close(2048.0 * 6144 * 34 / 8, root.GetProperty("activationBytesPerLayer").GetDouble(), "per layer");
        Assert.True(root.GetProperty("activationBytesTotal").GetDouble() > 48 * root.GetProperty("activationBytesPerLayer").GetDouble());
        Assert.True(root.GetProperty("fits").GetBoolean());
    }
}

public class PresetTests
{
    [Theory]
    [InlineData("llama-2-7b", 6.74)]
    [InlineData("llama-2-13b", 13.02)]
    [InlineData("llama-2-70b", 68.98)]
    [InlineData("llama-3-8b", 8.03)]
    [InlineData("mistral-7b", 7.24)]
    [InlineData("gpt2-xl", 1.56)]
    public void Open_presets_have_their_published_parameter_counts(string name, double billions)
    {
        var preset = TransformerPreset.Find(name)!;
        preset.Shape.Validate(preset.TensorParallel);
        // RMSNorm has no shift, GPT-2's learned position embeddings are left out: within 1%.
        Assert.InRange(preset.Shape.Parameters / 1e9, billions * 0.99, billions * 1.01);
    }
}
