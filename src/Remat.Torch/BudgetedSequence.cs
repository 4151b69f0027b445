using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// What the checkpointed modules (<see cref="CheckpointedSequential"/> and its kin for blocks with side inputs) share:
/// their stages, the chains measured and the plans made for each shape of input, and the training forward that runs
/// a plan through <see cref="ScheduleFunction"/>. A change in the stages since their chains were measured drops the
/// chains and the plans.
/// </summary>
internal sealed class BudgetedSequence
{
    private readonly nn.Module<Tensor, Tensor>[] _stages;
    private readonly (Graph Graph, Func<Tensor[], Tensor>[] Nodes) _run; // the stages as a run takes them, made once
    private readonly SideInputs _side = new();
    private readonly Dictionary<string, Chain> _chains = [];
    private readonly Dictionary<string, Plan> _plans = [];
    private readonly string _name;
    private object[] _structure = [];
    private PlanOptions _options;

    /// <summary>
    /// A sequence of <paramref name="count"/> stages, stage i made by <paramref name="stage"/> from the side inputs the
    /// stages read (none for blocks of one input), planned by <paramref name="options"/>.
    /// </summary>
    public BudgetedSequence(int count, Func<int, SideInputs, nn.Module<Tensor, Tensor>> stage, PlanOptions options, string name)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (count == 0)
            throw new ArgumentException("a checkpointed sequence needs at least one stage.");
        _ = Strategies.Get(options.Strategy); // an unknown strategy fails here, not at the first step
        _stages = [.. Enumerable.Range(0, count).Select(i => stage(i, _side))];
        _run = ScheduleRun.OfChain(_stages);
        _options = options;
        _name = name;
    }

    /// <summary>The stages as the runtime runs them: the blocks, or the blocks reading the side inputs.</summary>
    public nn.Module<Tensor, Tensor>[] Stages => _stages;

    /// <summary>How the sequence plans. Setting it drops the plans (not the measured chains).</summary>
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

    /// <summary>The plan the last training forward ran.</summary>
    public Plan? LastPlan { get; private set; }

    /// <summary>The stages measured on an input like <paramref name="input"/> with side inputs like <paramref name="side"/>, once per shape and model.</summary>
    public Chain ChainFor(Tensor input, Tensor?[] side)
    {
        ArgumentNullException.ThrowIfNull(input);
        ForgetIfChanged();
        string key = Key(input, side);
        if (!_chains.TryGetValue(key, out var chain))
        {
            var values = _side.Values;
            _side.Values = [.. side.Select(t => t?.detach())];
            try
            {
                _chains[key] = chain = Profiler.Profile(_stages, input, name: _name);
            }
            finally
            {
                _side.Values = values;
            }
        }
        return chain;
    }

    /// <summary>The plan for inputs like these, made once per shape and model.</summary>
    public Plan PlanFor(Tensor input, Tensor?[] side)
    {
        ForgetIfChanged();
        string key = Key(input, side);
        if (!_plans.TryGetValue(key, out var plan))
            _plans[key] = plan = Planner.Plan(ChainFor(input, side), _options);
        return plan;
    }

    /// <summary>
    /// The forward: in training with grad enabled, the plan's forward part inside a custom autograd function whose
    /// backward runs the rest; otherwise the stages plainly.
    /// </summary>
    public Tensor Forward(Tensor input, Tensor?[] side, bool training)
    {
        ArgumentNullException.ThrowIfNull(input);
        BackwardGuard.ReleaseReturned();
        if (!is_grad_enabled() || !training)
        {
            _side.Values = side;
            return _stages.Aggregate(input, (x, stage) => stage.forward(x));
        }
        var plan = PlanFor(input, side);
        LastPlan = plan;
        return ScheduleFunction.Run(_stages, _run, plan.Schedule, input, side, _side);
    }

    private static string Key(Tensor input, Tensor?[] side) =>
        string.Join(";", new[] { input }.Concat(side).Select(t => t is null ? "null" : $"{string.Join('x', t.shape)}:{t.dtype}:{t.device}"));

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
}
