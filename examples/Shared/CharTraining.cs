using System.Reflection;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// What the character-level examples share: Remat's own docs as the text (embedded by each example's project), its
/// characters as tokens, and a measured training step.
/// </summary>
internal static class CharTraining
{
    /// <summary>The docs' text, its distinct characters in order, and the text as their indices.</summary>
    public static (string Text, char[] Vocabulary, long[] Tokens) Corpus()
    {
        string text = string.Concat(new[] { "model.md", "planners.md" }.Select(name =>
            new StreamReader(Assembly.GetExecutingAssembly().GetManifestResourceStream(name)!).ReadToEnd()));
        char[] vocabulary = [.. text.Distinct().Order()];
        var index = vocabulary.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => (long)p.i);
        return (text, vocabulary, [.. text.Select(c => index[c])]);
    }

    /// <summary>
    /// The plain model and the checkpointed one, each made by <paramref name="build"/> (given whether to checkpoint) from
    /// the same seed, so their weights are equal, with an AdamW optimizer each.
    /// </summary>
    public static (T Plain, T Remat, optim.Optimizer PlainOptimizer, optim.Optimizer RematOptimizer) Pair<T>(Func<bool, T> build)
        where T : nn.Module
    {
        T Built(bool checkpointed)
        {
            random.manual_seed(1);
            return build(checkpointed);
        }
        var (plain, remat) = (Built(checkpointed: false), Built(checkpointed: true));
        return (plain, remat, optim.AdamW(plain.parameters(), 3e-3), optim.AdamW(remat.parameters(), 3e-3));
    }

    /// <summary>A batch of <paramref name="batch"/> random windows of <paramref name="context"/> tokens, and as target each window shifted by one.</summary>
    public static (Tensor X, Tensor Y) Batch(Random random, long[] tokens, int batch, int context)
    {
        var starts = Enumerable.Range(0, batch).Select(_ => random.Next(tokens.Length - context - 1)).ToArray();
        return (tensor(starts.SelectMany(s => tokens[s..(s + context)]).ToArray()).reshape(batch, context),
                tensor(starts.SelectMany(s => tokens[(s + 1)..(s + context + 1)]).ToArray()).reshape(batch, context));
    }

    /// <summary>Runs <paramref name="step"/>, and returns its peak memory where <paramref name="measure"/> (else 0).</summary>
    public static long Measured(bool measure, Action step)
    {
        if (measure)
            return MemoryMeter.PeakAbove(step);
        step();
        return 0;
    }

    /// <summary>One optimizer step of next-character prediction; the loss in fp32 whatever the model's type.</summary>
    public static float Step(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, Tensor x, Tensor y)
    {
        optimizer.zero_grad();
        var logits = model.forward(x);
        var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float32), y.reshape(-1));
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    }
}
