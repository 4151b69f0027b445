using Remat.Planners;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The automatic mode: a sequential model, profiled, planned with <see cref="Optimal"/> for a memory budget,
/// and run one training step at a time by the <see cref="ScheduleExecutor"/>. The budget counts what the chain
/// model counts: the input, the activations kept, the records and the gradients flowing back (not parameters,
/// their gradients or optimizer state).
/// </summary>
public sealed class CheckpointedSequential
{
    private readonly ScheduleExecutor _executor;

    private CheckpointedSequential(IReadOnlyList<nn.Module<Tensor, Tensor>> stages, Chain chain, Schedule schedule)
    {
        _executor = new ScheduleExecutor(stages);
        Chain = chain;
        Schedule = schedule;
        Plan = Simulator.Run(chain, schedule);
    }

    /// <summary>The measured chain.</summary>
    public Chain Chain { get; }

    /// <summary>The schedule each step runs.</summary>
    public Schedule Schedule { get; }

    /// <summary>The simulator's trace of the schedule on the measured chain: the planned peak and time.</summary>
    public Trace Plan { get; }

    /// <summary>
    /// Profiles <paramref name="stages"/> on <paramref name="sampleInput"/> and plans for <paramref name="budgetBytes"/>;
    /// below the smallest feasible budget it throws <see cref="InfeasibleBudgetException"/> naming that minimum.
    /// </summary>
    public static CheckpointedSequential Create(IReadOnlyList<nn.Module<Tensor, Tensor>> stages, Tensor sampleInput, long budgetBytes,
        int slots = Rotor.DefaultSlots)
    {
        var chain = Profiler.Profile(stages, sampleInput);
        return new CheckpointedSequential(stages, chain, new Optimal(budgetBytes, slots).Plan(chain));
    }

    /// <summary>Runs one training step (forward, loss, backward; gradients accumulate into .grad) and returns the loss.</summary>
    public float Step(Tensor input, Func<Tensor, Tensor> loss) => _executor.Step(Schedule, input, loss);
}
