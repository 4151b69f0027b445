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
/// same mask, as PyTorch's checkpoint does with <c>preserve_rng_state</c>. The chain runs as the graph whose node k
/// reads x_{k-1}, on the <see cref="GraphExecutor"/>. For a model whose loss and backward are the caller's own, use <see cref="CheckpointedSequential"/>.
/// </summary>
public sealed class ScheduleExecutor
{
    private readonly GraphExecutor _executor;

    /// <summary>An executor for <paramref name="stages"/>; stage k of the schedule is <c>stages[k - 1]</c>.</summary>
    public ScheduleExecutor(IEnumerable<nn.Module<Tensor, Tensor>> stages)
    {
        ArgumentNullException.ThrowIfNull(stages);
        var modules = stages.ToArray();
        if (modules.Length == 0)
            throw new ArgumentException("the executor needs at least one stage.", nameof(stages));
        // The chain is the graph whose node k reads x_{k-1} (docs/model.md): the graph executor runs it.
        var (graph, nodes) = ScheduleRun.OfChain(modules);
        _executor = new GraphExecutor(graph, nodes, () => RunningStatistics.OfStages(modules));
        Length = modules.Length;
    }

    /// <summary>The number of stages.</summary>
    public int Length { get; }

    /// <summary>
    /// Runs <paramref name="schedule"/> for one step on <paramref name="input"/> and returns the loss. The schedule is
    /// checked by the simulator's rules first: an invalid one throws <see cref="ScheduleException"/> with the index of
    /// the first bad operation, before anything runs.
    /// </summary>
    public float Step(Schedule schedule, Tensor input, Func<Tensor, Tensor> loss) => _executor.Step(schedule, input, loss);

    /// <summary>
    /// Runs one step as <see cref="Step"/> does and measures every operation: its wall time, the memory after it and
    /// the peak during it (the input's device's memory, <see cref="DeviceMemory"/>, read from where it stood when the step
    /// began plus the input's bytes). The trace has the shape of the simulator's, so planned and measured compare op by op.
    /// Measuring adds a few memory reads and, on CUDA, a synchronisation per operation; use it for a step to inspect,
    /// not for training.
    /// </summary>
    public MeasuredStep Measure(Schedule schedule, Tensor input, Func<Tensor, Tensor> loss) => _executor.Measure(schedule, input, loss);
}
