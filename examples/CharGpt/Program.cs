using Remat;
using Remat.Transformers;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

// A character-level GPT (embedding, transformer blocks, head) trained on Remat's own docs, twice in lockstep from
// the same seed: once plain, once with its blocks in a CheckpointedSequential at half of store-all's memory.
// Usage: dotnet run --project examples/CharGpt -c Release [-- steps]
MemoryMeter.Initialize();
int steps = args.Length > 0 ? int.Parse(args[0]) : 200;
const int Layers = 6, Hidden = 64, Heads = 4, Context = 32, Batch = 16;

var (text, vocabulary, tokens) = CharTraining.Corpus();
Console.WriteLine($"{text.Length} characters of docs, {vocabulary.Length} distinct; {Layers} blocks of width {Hidden}, context {Context}, batch {Batch}");

var (plain, remat, plainOptimizer, rematOptimizer) =
    CharTraining.Pair(checkpointed => new CharGpt(vocabulary.Length, Layers, Hidden, Heads, Context, checkpointed));

var batches = new Random(7);
long plainPeak = 0, rematPeak = 0;
for (int step = 1; step <= steps; step++)
{
    using var scope = NewDisposeScope();
    var (x, y) = CharTraining.Batch(batches, tokens, Batch, Context); // windows, and each shifted by one character
    float plainLoss = 0, rematLoss = 0;
    // The same random state for both, so dropout draws the same masks: the two runs must agree to the bit.
    // Steps 2 to 4 are measured (the first also allocates the optimizer's state and profiles the blocks).
    bool measure = step is >= 2 and <= 4;
    random.manual_seed(1000 + step);
    long p = CharTraining.Measured(measure, () => plainLoss = CharTraining.Step(plain, plainOptimizer, x, y));
    random.manual_seed(1000 + step);
    long r = CharTraining.Measured(measure, () => rematLoss = CharTraining.Step(remat, rematOptimizer, x, y));
    plainPeak = Math.Max(plainPeak, p);
    rematPeak = Math.Max(rematPeak, r);
    if (step == 1 || step % 50 == 0 || step == steps)
        Console.WriteLine($"step {step,4}: loss plain {plainLoss:0.0000}, with Remat {rematLoss:0.0000}{(plainLoss == rematLoss ? " (equal)" : " (DIFFERENT)")}");
}
var plan = remat.Blocks.LastPlan!;
Console.WriteLine($"measured peak of a step: plain {ByteSize.Format(plainPeak)}, with Remat {ByteSize.Format(rematPeak)}");
Console.WriteLine($"Remat's plan for the blocks: {plan.Strategy}, planned peak {ByteSize.Format(plan.PeakBytes)} of a budget of " +
                  $"{ByteSize.Format(plan.BudgetBytes!.Value)}, {plan.Schedule.ForwardCount - Layers} recomputed block forwards per step");



/// <summary>Token and position embeddings, GPT blocks, a final layer norm and the output layer.</summary>
internal sealed class CharGpt : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> tokens, positions, norm, head;
    private readonly nn.Module<Tensor, Tensor> blocks;

    public CharGpt(int vocabulary, int layers, int hidden, int heads, int context, bool checkpointed) : base(nameof(CharGpt))
    {
        tokens = nn.Embedding(vocabulary, hidden);
        positions = nn.Embedding(context, hidden);
        var stack = Enumerable.Range(0, layers).Select(_ => (nn.Module<Tensor, Tensor>)new GptBlock(hidden, heads, 0.1, Recompute.None)).ToArray();
        // The one line Remat changes: the blocks in a CheckpointedSequential, planned for half of store-all's memory.
        blocks = checkpointed ? new CheckpointedSequential(stack, new PlanOptions { BudgetFraction = 0.5 }) : nn.Sequential(stack);
        norm = nn.LayerNorm(hidden);
        head = nn.Linear(hidden, vocabulary);
        RegisterComponents();
    }

    public CheckpointedSequential Blocks => (CheckpointedSequential)blocks;

    public override Tensor forward(Tensor x)
    {
        var h = tokens.forward(x) + positions.forward(arange(x.shape[1], device: x.device));
        return head.forward(norm.forward(blocks.forward(h)));
    }
}
