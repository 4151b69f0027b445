// A new user's first program with the Remat.Torch package: built outside the repository, against the packed package.
// It checks that the checkpointed module gives the plain model's gradients and a smaller measured peak.
using Remat;
using Remat.Torch;
using TorchSharp;
using static TorchSharp.torch;

MemoryMeter.Initialize();
nn.Module<Tensor, Tensor>[] Blocks()
{
    random.manual_seed(0);
    return [.. Enumerable.Range(0, 16).Select(_ => (nn.Module<Tensor, Tensor>)nn.Sequential(nn.Linear(256, 256), nn.ReLU()))];
}
var x = randn(2048, 256);

float[] Step(nn.Module<Tensor, Tensor> model, out long peak)
{
    model.zero_grad();
    using (var warm = NewDisposeScope())
        model.forward(x).pow(2).mean().backward(); // the first step allocates the gradients (and plans)
    model.zero_grad();
    peak = MemoryMeter.PeakAbove(() =>
    {
        using var scope = NewDisposeScope();
        model.forward(x).pow(2).mean().backward();
    });
    return [.. model.parameters().SelectMany(p => p.grad!.data<float>().ToArray())];
}

var plain = Step(nn.Sequential(Blocks()), out long plainPeak);
var remat = new CheckpointedSequential(Blocks(), new PlanOptions { BudgetFraction = 0.4 });
var checkpointed = Step(remat, out long rematPeak);
bool equal = plain.SequenceEqual(checkpointed);
Console.WriteLine($"gradients equal: {equal}; measured peak: plain {ByteSize.Format(plainPeak)}, Remat {ByteSize.Format(rematPeak)} " +
                  $"(planned {ByteSize.Format(remat.LastPlan!.PeakBytes)})");
// The convolution check reaches libtorch's switches by loading libtorch_cpu again by name: it must find the package's copy.
Console.WriteLine($"libtorch's backend switches found: {Backends.IsSupported}");
return equal && rematPeak < plainPeak ? 0 : 1;
