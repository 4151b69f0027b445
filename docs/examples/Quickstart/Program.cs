using Remat;
using Remat.Planners;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

// A deep MLP as a list of stages: Remat plans over the stages, in order.
MemoryMeter.Initialize(); // before any tensor exists, so that measured peaks are exact
random.manual_seed(0);
var stages = Enumerable.Range(0, 48)
    .Select(_ => (nn.Module<Tensor, Tensor>)nn.Sequential(nn.Linear(1024, 1024), nn.ReLU()))
    .ToList();
var x = randn(512, 1024);
var target = randn(512, 1024);
Tensor Loss(Tensor y) => nn.functional.mse_loss(y, target);

// 1. One call: profile, plan with the optimal planner for 48 MiB of activations, run.
var model = CheckpointedSequential.Create(stages, x, budgetBytes: 48L << 20);
Console.WriteLine($"planned peak {Remat.Size.Format(model.Plan.PeakBytes)}, " +
                  $"{model.Plan.ForwardCount - stages.Count} recomputed forwards per step");

var optimizer = optim.SGD(stages.SelectMany(s => s.parameters()), 0.01);
for (int step = 0; step < 3; step++)
{
    optimizer.zero_grad();
    float loss = 0;
    long peak = MemoryMeter.PeakAbove(() => loss = model.Step(x, Loss));
    optimizer.step();
    Console.WriteLine($"step {step}: loss {loss:0.0000}, measured peak {Remat.Size.Format(peak)}");
}

// 2. Any planner's schedule on the same chain, run by the executor.
var schedule = new Periodic().Plan(model.Chain);
new ScheduleExecutor(stages).Step(schedule, x, Loss);

// 3. Function checkpointing, as torch.utils.checkpoint.checkpoint: one block, recomputed in the backward.
var block = stages[0];
var h = Checkpoint.Run(block.forward, x);
Loss(h).backward();
