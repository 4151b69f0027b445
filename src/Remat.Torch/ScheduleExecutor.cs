using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Runs one training step of a chain of TorchSharp modules by a schedule of the core, op by op, with the
/// memory rules of the chain model: <c>Fn</c>/<c>Fck</c> run under no-grad, <c>Fe</c> records the stage on a
/// detached input, <c>B</c> back-propagates the stage with its incoming gradient. Parameter gradients
/// accumulate into <c>.grad</c> exactly as in a plain step, and so does the input's gradient when the input requires
/// grad: into its <c>.grad</c> for a leaf, on into the graph that produced it otherwise. Every tensor a freed op drops
/// is disposed at once. A recomputed stage sees the random state of its first run in the step, so dropout draws the
/// same mask (CPU generator), as PyTorch's checkpoint does with <c>preserve_rng_state</c>.
/// For a model whose loss and backward are the caller's own, use <see cref="CheckpointedSequential"/>.
/// </summary>
public sealed class ScheduleExecutor
{
    private readonly nn.Module<Tensor, Tensor>[] _stages;

    /// <summary>An executor for <paramref name="stages"/>; stage k of the schedule is <c>stages[k - 1]</c>.</summary>
    public ScheduleExecutor(IEnumerable<nn.Module<Tensor, Tensor>> stages)
    {
        _stages = stages.ToArray();
        if (_stages.Length == 0)
            throw new ArgumentException("the executor needs at least one stage.", nameof(stages));
    }

    /// <summary>The number of stages.</summary>
    public int Length => _stages.Length;

    /// <summary>
    /// Runs <paramref name="schedule"/> for one step on <paramref name="input"/> and returns the loss.
    /// The schedule is checked by the simulator's rules as it runs: an op that lacks what it needs throws
    /// <see cref="ScheduleException"/>.
    /// </summary>
    public float Step(Schedule schedule, Tensor input, Func<Tensor, Tensor> loss) => Run(schedule, input, loss, recorder: null);

    /// <summary>
    /// Runs one step as <see cref="Step"/> does and measures every operation: its wall time, the memory after it and
    /// the peak during it (the input's device's memory, <see cref="DeviceMemory"/>, read from where it stood when the step
    /// began plus the input's bytes). The trace has the shape of the simulator's, so planned and measured compare op by op.
    /// Measuring adds a few memory reads and, on CUDA, a synchronisation per operation; use it for a step to inspect,
    /// not for training.
    /// </summary>
    public MeasuredStep Measure(Schedule schedule, Tensor input, Func<Tensor, Tensor> loss) =>
        OpRecorder.Measure(schedule, _stages.Length, input, recorder => Run(schedule, input, loss, recorder));

    private float Run(Schedule schedule, Tensor input, Func<Tensor, Tensor> loss, OpRecorder? recorder)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(loss);
        using var random = RandomStates.For(_stages.Length, input.device);
        using var run = new ScheduleRun(_stages, schedule, input, random, RunningStatistics.OfStages(_stages), recorder);
        var output = run.Forward();
        float value = 0;
        Tensor? gradient = null;
        void Loss()
        {
            var z = output.detach().requires_grad_(true);
            using (var scope = NewDisposeScope())
            {
                using (enable_grad())
                {
                    var l = loss(z);
                    l.backward();
                    value = l.to_type(ScalarType.Float32).item<float>(); // a bf16 or fp16 loss too
                }
                gradient = z.grad!.detach().MoveToOuterDisposeScope();
            }
            z.Dispose();
            run.ReleaseOutput();
        }
        if (recorder is null)
            Loss();
        else
            recorder.Measure(run.LossIndex, Loss);
        if (run.Backward(gradient!) is { } inputGradient)
        {
            // d_0 flows on into whatever produced the input (an embedding, a stem) or into a leaf's .grad.
            input.backward([inputGradient]);
            inputGradient.Dispose();
        }
        return value;
    }
}
