using System.Globalization;
using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// A sequence of stages that trains within a memory budget, as one TorchSharp module to put in your own model.
/// On its first training forward for an input shape it measures its stages (<see cref="Profiler"/>) and plans the
/// fastest schedule for the budget (<see cref="Planner.Plan"/>, optimal by default); the plan is kept for that shape.
/// Its forward runs the schedule's forward part, keeping only what the plan keeps, and returns an output that is part
/// of your autograd graph; your own <c>loss.backward()</c> then runs the rest of the schedule (recomputations and
/// per-stage backward) inside the backward of a custom autograd function. Gradients, of the input and of every
/// parameter, equal the plain module's; dropout draws the same masks (CPU generator).
/// Under no-grad, or in eval mode, it runs the stages plainly.
/// </summary>
public sealed class CheckpointedSequential : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor>[] _stages;
    private readonly Dictionary<string, Chain> _chains = [];
    private readonly Dictionary<string, Plan> _plans = [];
    private object[] _structure = [];
    private PlanOptions _options;

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
        ArgumentNullException.ThrowIfNull(options);
        _stages = [.. stages];
        if (_stages.Length == 0)
            throw new ArgumentException("a checkpointed sequence needs at least one stage.", nameof(stages));
        _ = Strategies.Get(options.Strategy); // an unknown strategy fails here, not at the first step
        _options = options;
        // Named as Sequential names its children, so a model's parameter names (and saved weights) do not change
        // when its Sequential becomes a CheckpointedSequential.
        for (int i = 0; i < _stages.Length; i++)
            register_module(i.ToString(CultureInfo.InvariantCulture), _stages[i]);
    }

    /// <summary>The stages, in order.</summary>
    public IReadOnlyList<nn.Module<Tensor, Tensor>> Stages => _stages;

    /// <summary>How the module plans. Setting it drops the plans (not the measured chains): the next step plans anew.</summary>
    public PlanOptions Options
    {
        get => _options;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            _ = Strategies.Get(value.Strategy);
            _options = value;
            _plans.Clear();
        }
    }

    /// <summary>The plan the last training forward ran: its schedule, planned peak and time (null before the first).</summary>
    public Plan? LastPlan { get; private set; }

    /// <summary>
    /// The stages measured on an input like <paramref name="input"/> (same shape, type and device), profiled once per
    /// shape and model: a change in the stages since (a module or parameter replaced, a parameter of another shape,
    /// type or device) drops every chain and plan, and the stages are measured again. Profiling leaves the parameters'
    /// gradients and the random generator as they were.
    /// </summary>
    public Chain ChainFor(Tensor input)
    {
        ForgetIfChanged();
        string key = Key(input);
        if (!_chains.TryGetValue(key, out var chain))
        {
            _chains[key] = chain = Profiler.Profile(Stages, input, name: GetName());
        }
        return chain;
    }

    /// <summary>The plan for inputs like <paramref name="input"/>, made once per shape; below the minimum it throws
    /// <see cref="InfeasibleBudgetException"/> with the smallest budget that works.</summary>
    public Plan PlanFor(Tensor input)
    {
        ForgetIfChanged();
        string key = Key(input);
        if (!_plans.TryGetValue(key, out var plan))
            _plans[key] = plan = Planner.Plan(ChainFor(input), _options);
        return plan;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        BackwardGuard.ReleaseReturned();
        if (!is_grad_enabled() || !training)
            return _stages.Aggregate(input, (x, stage) => stage.forward(x));
        var plan = PlanFor(input);
        LastPlan = plan;
        // The sentinel requires grad, so the backward runs even when the input does not (a frozen embedding in front).
        var sentinel = new Sentinel(input.device);
        object[] vars = [new ScheduleFunction.State(_stages, plan.Schedule, input.device, sentinel), input, sentinel.Input];
        return ScheduleFunction.apply(vars)[0];
    }

    private static string Key(Tensor input) => $"{string.Join('x', input.shape)}:{input.dtype}:{input.device}";

    /// <summary>Drops the chains and plans when the stages are no longer the model they were measured on.</summary>
    private void ForgetIfChanged()
    {
        var structure = Structure();
        if (structure.SequenceEqual(_structure, Sameness.Instance))
            return;
        _chains.Clear();
        _plans.Clear();
        _structure = structure;
    }

    /// <summary>
    /// What a chain depends on: every module of the stages (the elements of module lists too, which a list's indexer
    /// replaces without telling its owner) and every parameter, with its shape, type and device.
    /// </summary>
    private object[] Structure() => [.. _stages.SelectMany(Structure)];

    private static IEnumerable<object> Structure(nn.Module module)
    {
        yield return module;
        foreach (var p in module.parameters(recurse: false))
        {
            yield return p;
            yield return $"{string.Join('x', p.shape)}:{p.dtype}:{p.device}";
        }
        var children = module is IEnumerable<nn.Module> list ? module.children().Concat(list) : module.children();
        foreach (var part in children.SelectMany(Structure))
            yield return part;
    }

    /// <summary>The same object, or equal strings.</summary>
    private sealed class Sameness : IEqualityComparer<object>
    {
        public static readonly Sameness Instance = new();

        public new bool Equals(object? x, object? y) => ReferenceEquals(x, y) || x is string a && a == y as string;

        public int GetHashCode(object obj) => obj is string s ? s.GetHashCode(StringComparison.Ordinal) : RuntimeHelpers.GetHashCode(obj);
    }

    private static IEnumerable<nn.Module<Tensor, Tensor>> Children(Sequential sequential)
    {
        ArgumentNullException.ThrowIfNull(sequential);
        foreach (var (name, child) in sequential.named_children())
            yield return child as nn.Module<Tensor, Tensor>
                         ?? throw new ArgumentException($"the child '{name}' of the Sequential is not a Module<Tensor, Tensor>.", nameof(sequential));
    }

    /// <summary>The custom autograd function around one run of the schedule: forward part in its forward, the rest in its backward.</summary>
    private sealed class ScheduleFunction : autograd.MultiTensorFunction<ScheduleFunction>
    {
        /// <summary>The stages and schedule, the random states and running statistics of the stages' first runs, and the run between forward and backward.</summary>
        public sealed class State(nn.Module<Tensor, Tensor>[] stages, Schedule schedule, Device device, Sentinel sentinel)
        {
            public nn.Module<Tensor, Tensor>[] Stages { get; } = stages;

            public Schedule Schedule { get; } = schedule;

            public RandomStates Random { get; } = RandomStates.For(stages.Length, device);

            public RunningStatistics Statistics { get; } = RunningStatistics.OfStages(stages);

            public Sentinel Sentinel { get; } = sentinel;

            public Tensor? Input { get; set; }

            public ScheduleRun? Run { get; set; }
        }

        public override string Name => "RematCheckpointedSequential";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var state = (State)vars[0];
            var input = (Tensor)vars[1];
            ctx.save_data("state", state);
            ctx.save_for_backward([input]); // a second backward (retain_graph) runs the forward part again from it
            // A handle of our own, outside the caller's dispose scopes: the caller may dispose its handle once the forward
            // returns (TorchSharp's Sequential does), or a scope around the forward may; the run's tensors are its own too.
            state.Input = input.detach().requires_grad_(input.requires_grad).DetachFromDisposeScope();
            state.Run = new ScheduleRun(state.Stages, state.Schedule, state.Input, state.Random, state.Statistics);
            var output = state.Run.Forward();
            if (state.Run.OutputRecorded && !output.requires_grad)
            {
                // The last stage detached its output, so the plain model's output needs no gradient and nothing will
                // back-propagate into this one: it is returned as it is, and the run ends here.
                output = output.detach();
                ctx.mark_non_differentiable([output]);
                state.Run.Dispose();
                state.Run = null;
                state.Input.Dispose();
                return [output];
            }
            return [output.detach()];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
        {
            var state = (State)ctx.get_data("state");
            return BackwardGuard.Run("a CheckpointedSequential", 3, state.Sentinel, () =>
            {
                var run = state.Run;
                state.Run = null;
                if (run is null)
                {
                    // Another backward through the same graph: the first one consumed the run, so redo its forward part.
                    state.Input = ctx.get_saved_variables()[0];
                    run = new ScheduleRun(state.Stages, state.Schedule, state.Input, state.Random, state.Statistics);
                    run.Forward();
                }
                using (run)
                using (state.Input)
                {
                    var inputGradient = run.Backward(grads[0]);
                    return [null!, inputGradient is null ? null! : FirstOrderOnly.Wrap(inputGradient), null!];
                }
            });
        }
    }
}
