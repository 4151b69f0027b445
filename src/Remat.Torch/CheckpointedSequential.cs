using System.Globalization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// A sequence of stages that trains within a memory budget, as one TorchSharp module to put in your own model.
/// On its first training forward for an input shape it measures its stages (<see cref="Profiler"/>) and plans the
/// fastest schedule for the budget (<see cref="Planner"/>, optimal by default); the plan is kept for that shape.
/// Its forward runs the schedule's forward part, keeping only what the plan keeps, and returns an output that is part
/// of your autograd graph; your own <c>loss.backward()</c> then runs the rest of the schedule (recomputations and
/// per-stage backward) inside the backward of a custom autograd function. Gradients, of the input and of every
/// parameter, equal the plain module's; dropout draws the same masks.
/// Under no-grad, or in eval mode, it runs the stages plainly.
/// </summary>
public sealed class CheckpointedSequential : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor>[] _blocks;
    private readonly BudgetedSequence _sequence;

    /// <summary>The stages of <paramref name="sequential"/> (its children, in order), planned by <paramref name="options"/>.</summary>
    public CheckpointedSequential(Sequential sequential, PlanOptions options)
        : this(Children(sequential), options)
    {
    }

    /// <summary>The stages of <paramref name="sequential"/>, planned for a budget of <paramref name="budgetBytes"/> bytes.</summary>
    public CheckpointedSequential(Sequential sequential, long budgetBytes)
        : this(Children(sequential), new PlanOptions { BudgetBytes = budgetBytes })
    {
    }

    /// <summary><paramref name="stages"/>, planned for a budget of <paramref name="budgetBytes"/> bytes with the optimal strategy.</summary>
    public CheckpointedSequential(IEnumerable<nn.Module<Tensor, Tensor>> stages, long budgetBytes)
        : this(stages, new PlanOptions { BudgetBytes = budgetBytes })
    {
    }

    /// <summary>
    /// <paramref name="stages"/>, planned by <paramref name="options"/>: a budget in bytes or as a fraction of store-all's
    /// peak, or a strategy (periodic, revolve, ...) with its settings.
    /// </summary>
    public CheckpointedSequential(IEnumerable<nn.Module<Tensor, Tensor>> stages, PlanOptions options)
        : base(nameof(CheckpointedSequential))
    {
        ArgumentNullException.ThrowIfNull(stages);
        _blocks = [.. stages];
        _sequence = new BudgetedSequence(_blocks.Length, (i, _) => _blocks[i], options, GetName());
        Register(this, _blocks);
    }

    /// <summary>The stages, in order.</summary>
    public IReadOnlyList<nn.Module<Tensor, Tensor>> Stages => _blocks;

    /// <summary>How the module plans. Setting it drops the plans (not the measured chains): the next step plans anew.</summary>
    public PlanOptions Options
    {
        get => _sequence.Options;
        set => _sequence.Options = value;
    }

    /// <summary>The plan the last training forward ran: its schedule, planned peak and time (null before the first).</summary>
    public Plan? LastPlan => _sequence.LastPlan;

    /// <summary>
    /// The stages measured on an input like <paramref name="input"/> (same shape, type and device), profiled once per
    /// shape and model: a change in the stages since (a module or parameter replaced, a parameter of another shape,
    /// type or device) drops every chain and plan, and the stages are measured again. Profiling leaves the parameters'
    /// gradients and the random generators as they were.
    /// </summary>
    public Chain ChainFor(Tensor input) => _sequence.ChainFor(input, []);

    /// <summary>The plan for inputs like <paramref name="input"/>, made once per shape; below the minimum it throws
    /// <see cref="InfeasibleBudgetException"/> with the smallest budget that works.</summary>
    public Plan PlanFor(Tensor input) => _sequence.PlanFor(input, []);

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => _sequence.Forward(input, [], training);

    /// <summary>
    /// Registers <paramref name="blocks"/> as <paramref name="owner"/>'s children, named as Sequential names its
    /// children, so a model's parameter names (and saved weights) do not change when its Sequential becomes a checkpointed one.
    /// </summary>
    internal static void Register(nn.Module owner, IEnumerable<nn.Module> blocks)
    {
        int i = 0;
        foreach (var block in blocks)
            owner.register_module((i++).ToString(CultureInfo.InvariantCulture), block);
    }

    private static IEnumerable<nn.Module<Tensor, Tensor>> Children(Sequential sequential)
    {
        ArgumentNullException.ThrowIfNull(sequential);
        foreach (var (name, child) in sequential.named_children())
            yield return child as nn.Module<Tensor, Tensor>
                         ?? throw new ArgumentException($"the child '{name}' of the Sequential is not a Module<Tensor, Tensor>.", nameof(sequential));
    }
}
