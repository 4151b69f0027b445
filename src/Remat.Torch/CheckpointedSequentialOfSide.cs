using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// <see cref="CheckpointedSequential"/> for blocks that take side inputs besides the hidden states, as transformer
/// blocks do: <c>forward(hidden, side)</c>, where <typeparamref name="TSide"/> is one tensor (an attention mask:
/// blocks of type <c>Module&lt;Tensor, Tensor, Tensor&gt;</c>) or a value tuple of tensors for several (rotary tables
/// and position ids: <c>Module&lt;Tensor, (Tensor, Tensor), Tensor&gt;</c>). The side inputs flow unchanged to every
/// block; any of them may be null, and one that requires grad gets the plain model's gradient (the sum of what every
/// block gives it). Plans are kept per shape of the hidden states and of the side inputs. Everything else is as in
/// <see cref="CheckpointedSequential"/>.
/// </summary>
public sealed class CheckpointedSequential<TSide> : nn.Module<Tensor, TSide, Tensor>
{
    private readonly nn.Module<Tensor, TSide, Tensor>[] _blocks;
    private readonly BudgetedSequence _sequence;

    /// <summary><paramref name="blocks"/>, planned by <paramref name="options"/> (a budget, or a strategy with its settings).</summary>
    public CheckpointedSequential(IEnumerable<nn.Module<Tensor, TSide, Tensor>> blocks, PlanOptions options)
        : base(nameof(CheckpointedSequential<TSide>))
    {
        ArgumentNullException.ThrowIfNull(blocks);
        SideTensors<TSide>.Check();
        _blocks = [.. blocks];
        _sequence = new BudgetedSequence(_blocks.Length,
            (i, side) => new SideInputStage(_blocks[i], (x, values) => _blocks[i].forward(x, SideTensors<TSide>.Join(values)), side), options, GetName());
        CheckpointedSequential.Register(this, _blocks);
    }

    /// <summary><paramref name="blocks"/>, planned for a budget of <paramref name="budgetBytes"/> bytes with the optimal strategy.</summary>
    public CheckpointedSequential(IEnumerable<nn.Module<Tensor, TSide, Tensor>> blocks, long budgetBytes)
        : this(blocks, new PlanOptions { BudgetBytes = budgetBytes })
    {
    }

    /// <summary>The blocks, in order.</summary>
    public IReadOnlyList<nn.Module<Tensor, TSide, Tensor>> Stages => _blocks;

    /// <summary>How the module plans. Setting it drops the plans (not the measured chains).</summary>
    public PlanOptions Options
    {
        get => _sequence.Options;
        set => _sequence.Options = value;
    }

    /// <summary>The plan the last training forward ran (null before the first).</summary>
    public Plan? LastPlan => _sequence.LastPlan;

    /// <summary>The blocks measured on inputs like these, once per shape and model.</summary>
    public Chain ChainFor(Tensor hidden, TSide side) => _sequence.ChainFor(hidden, SideTensors<TSide>.Split(side));

    /// <summary>The plan for inputs like these, made once per shape and model.</summary>
    public Plan PlanFor(Tensor hidden, TSide side) => _sequence.PlanFor(hidden, SideTensors<TSide>.Split(side));

    /// <inheritdoc />
    public override Tensor forward(Tensor hidden, TSide side) => _sequence.Forward(hidden, SideTensors<TSide>.Split(side), training);
}
