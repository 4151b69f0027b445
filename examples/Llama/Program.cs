using Remat;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

// A character-level Llama trained on Remat's own docs, twice in lockstep from the same seed: once plain, once with its
// blocks in a CheckpointedSequential<(Tensor, Tensor)> (the rotary tables are the blocks' side input) at 40% of
// store-all's memory. In fp32 the two give the same losses to the bit; with bf16 as the first argument's suffix
// ("200 bf16") both run in bf16.
// Usage: dotnet run --project examples/Llama -c Release [-- steps [bf16]]
MemoryMeter.Initialize();
int steps = args.Length > 0 ? int.Parse(args[0]) : 100;
var dtype = args.Length > 1 && args[1] == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
const int Layers = 6, Hidden = 64, Heads = 4, KvHeads = 2, Ffn = 176, Context = 32, Batch = 16;

var (text, vocabulary, tokens) = CharTraining.Corpus();
Console.WriteLine($"{text.Length} characters of docs, {vocabulary.Length} distinct; {Layers} Llama blocks of width {Hidden} " +
                  $"({Heads} heads, {KvHeads} key/value heads), context {Context}, batch {Batch}, {dtype}");

var (plain, remat, plainOptimizer, rematOptimizer) = CharTraining.Pair(checkpointed =>
{
    var model = new CharLlama(vocabulary.Length, Layers, Hidden, Heads, KvHeads, Ffn, Context, checkpointed);
    model.to(dtype);
    return model;
});

var batches = new Random(7);
long plainPeak = 0, rematPeak = 0;
int equal = 0;
for (int step = 1; step <= steps; step++)
{
    using var scope = NewDisposeScope();
    var (x, y) = CharTraining.Batch(batches, tokens, Batch, Context); // windows, and each shifted by one character
    // Steps 2 to 4 are measured (the first also allocates the optimizer's state and profiles the blocks).
    bool measure = step is >= 2 and <= 4;
    float plainLoss = 0, rematLoss = 0;
    long p = CharTraining.Measured(measure, () => plainLoss = CharTraining.Step(plain, plainOptimizer, x, y));
    long r = CharTraining.Measured(measure, () => rematLoss = CharTraining.Step(remat, rematOptimizer, x, y));
    plainPeak = Math.Max(plainPeak, p);
    rematPeak = Math.Max(rematPeak, r);
    equal += plainLoss == rematLoss ? 1 : 0;
    if (step == 1 || step % 25 == 0 || step == steps)
        Console.WriteLine($"step {step,4}: loss plain {plainLoss:0.0000}, with Remat {rematLoss:0.0000}{(plainLoss == rematLoss ? " (equal)" : $" (differs by {Math.Abs(plainLoss - rematLoss):0.####})")}");
}
var plan = remat.Blocks.LastPlan!;
Console.WriteLine($"losses equal to the bit in {equal} of {steps} steps");
Console.WriteLine($"measured peak of a step: plain {ByteSize.Format(plainPeak)}, with Remat {ByteSize.Format(rematPeak)}");
Console.WriteLine($"Remat's plan for the blocks: {plan.Strategy}, planned peak {ByteSize.Format(plan.PeakBytes)} of a budget of " +
                  $"{ByteSize.Format(plan.BudgetBytes!.Value)}, {plan.Schedule.ForwardCount - Layers} recomputed block forwards per step");
return equal == steps || dtype != ScalarType.Float32 ? 0 : 1;



/// <summary>A token embedding, Llama blocks (which take the rotary tables beside the hidden states), a final norm and the output layer.</summary>
internal sealed class CharLlama : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> tokens, norm, head;
    private readonly nn.Module<Tensor, (Tensor, Tensor), Tensor> blocks;
    private readonly int _headSize;

    public CharLlama(int vocabulary, int layers, int hidden, int heads, int kvHeads, int ffn, int context, bool checkpointed) : base(nameof(CharLlama))
    {
        _headSize = hidden / heads;
        tokens = nn.Embedding(vocabulary, hidden);
        var stack = Enumerable.Range(0, layers).Select(_ => (nn.Module<Tensor, (Tensor, Tensor), Tensor>)new LlamaBlock(hidden, heads, kvHeads, ffn)).ToArray();
        // The one line Remat changes: the blocks in a CheckpointedSequential, planned for 40% of store-all's memory.
        blocks = checkpointed ? new CheckpointedSequential<(Tensor, Tensor)>(stack, new PlanOptions { BudgetFraction = 0.4 }) : new Stack(stack);
        norm = nn.LayerNorm(hidden);
        head = nn.Linear(hidden, vocabulary, hasBias: false);
        RegisterComponents();
    }

    public CheckpointedSequential<(Tensor, Tensor)> Blocks => (CheckpointedSequential<(Tensor, Tensor)>)blocks;

    public override Tensor forward(Tensor x)
    {
        var h = tokens.forward(x);
        var rotary = LlamaBlock.Rotary((int)x.shape[1], _headSize, device: x.device, dtype: h.dtype);
        return head.forward(norm.forward(blocks.forward(h, rotary)));
    }

    /// <summary>The plain model's blocks, one after the other with the same tables.</summary>
    private sealed class Stack : nn.Module<Tensor, (Tensor, Tensor), Tensor>
    {
        private readonly TorchSharp.Modules.ModuleList<nn.Module<Tensor, (Tensor, Tensor), Tensor>> layers;

        public Stack(IEnumerable<nn.Module<Tensor, (Tensor, Tensor), Tensor>> blocks) : base(nameof(Stack))
        {
            layers = new TorchSharp.Modules.ModuleList<nn.Module<Tensor, (Tensor, Tensor), Tensor>>([.. blocks]);
            RegisterComponents();
        }

        public override Tensor forward(Tensor h, (Tensor, Tensor) rotary) => layers.Aggregate(h, (acc, b) => b.forward(acc, rotary));
    }
}
