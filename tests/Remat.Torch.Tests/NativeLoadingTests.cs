using static TorchSharp.torch;

namespace Remat.Torch.Tests;

public class NativeLoadingTests
{
    [Fact]
    public void TorchSharp_loads_and_runs_a_backward_on_this_machine()
    {
        var x = ones(3, requires_grad: true);
        var y = (x * x).sum();
        y.backward();
        Assert.Equal([2f, 2f, 2f], x.grad!.data<float>().ToArray());
    }
}
