using Remat;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

MemoryMeter.Initialize(); // before any tensor exists, so that measured peaks are exact
random.manual_seed(0);

// Your model: a stem, 48 blocks that Remat runs within a memory budget, and a head.
var blocks = Enumerable.Range(0, 48).Select(_ => (nn.Module<Tensor, Tensor>)nn.Sequential(nn.Linear(1024, 1024), nn.ReLU()));
var checkpointed = new CheckpointedSequential(blocks, budgetBytes: 48L << 20);
var model = nn.Sequential(nn.Linear(256, 1024), checkpointed, nn.Linear(1024, 10));

var x = randn(512, 256);
var labels = randint(0, 10, [512]);
var optimizer = optim.SGD(model.parameters(), 0.01);
for (int step = 0; step < 3; step++)
{
    using var scope = NewDisposeScope();
    optimizer.zero_grad();
    float value = 0;
    // Your own loss and loss.backward(): Remat's recomputations run inside it.
    long peak = MemoryMeter.PeakAbove(() =>
    {
        var loss = nn.functional.cross_entropy(model.forward(x), labels);
        loss.backward();
        value = loss.item<float>();
    });
    optimizer.step();
    Console.WriteLine($"step {step}: loss {value:0.0000}, measured peak {ByteSize.Format(peak)}");
}

// The plan the blocks ran: its planned peak, and the forwards it recomputes per step.
var plan = checkpointed.LastPlan!;
Console.WriteLine($"planned peak {ByteSize.Format(plan.PeakBytes)} for a budget of {ByteSize.Format(plan.BudgetBytes!.Value)}, " +
                  $"{plan.Schedule.ForwardCount - checkpointed.Stages.Count} recomputed forwards per step");

// Function checkpointing, as torch.utils.checkpoint.checkpoint: one block, recomputed in the backward.
var h = Checkpoint.Run(checkpointed.Stages[0].forward, randn(64, 1024));
Checkpoint.Backward(h.pow(2).sum());
