using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// One run of a schedule on a chain of modules, in two halves around its <c>Loss</c> operation: <see cref="Forward"/>
/// runs the operations before it and gives <c>x_L</c>; <see cref="Backward"/> takes <c>d_L</c>, runs the rest
/// (recomputations and per-stage backward) and gives <c>d_0</c>. The tensors it keeps are its own, outside every
/// dispose scope, so a scope around the forward half leaves them to the backward half. The memory rules are the chain model's
/// (docs/model.md): <c>Fn</c>/<c>Fck</c> run under no-grad, <c>Fe</c> records the stage on a detached input,
/// <c>B(k)</c> back-propagates the record with <c>d_k</c>, and every tensor an operation frees is disposed at once.
/// A stage run a second time replays the random state of its first run (<see cref="RandomStates"/>), so dropout
/// draws the same mask, as PyTorch's checkpoint does with <c>preserve_rng_state</c> (CPU generator), and leaves the
/// running statistics of its normalisation layers as it found them (<see cref="RunningStatistics"/>).
/// </summary>
internal sealed class ScheduleRun : IDisposable
{
    private readonly nn.Module<Tensor, Tensor>[] _stages;
    private readonly Schedule _schedule;
    private readonly Tensor _input;
    private readonly RandomStates _random;
    private readonly RunningStatistics _statistics;
    private readonly Tensor?[] _plain;
    private readonly (Tensor Input, Tensor Output)?[] _records;
    private readonly OpRecorder? _recorder;
    private int _next; // the index of the next operation to run
    private int _backward; // the stage whose backward runs next: d_k exists for it alone

    /// <summary>
    /// A run of <paramref name="schedule"/> on <paramref name="input"/>, with the random states of the stages' first runs
    /// and their running statistics (which only a first run updates); a <paramref name="recorder"/> measures each operation.
    /// </summary>
    public ScheduleRun(nn.Module<Tensor, Tensor>[] stages, Schedule schedule, Tensor input, RandomStates random, RunningStatistics statistics, OpRecorder? recorder = null)
    {
        _statistics = statistics;
        _recorder = recorder;
        _stages = stages;
        _schedule = schedule;
        _input = input;
        _random = random;
        _plain = new Tensor?[stages.Length + 1];
        _records = new (Tensor, Tensor)?[stages.Length + 1];
        _plain[0] = input;
        _backward = stages.Length;
    }

    private int L => _stages.Length;

    /// <summary>The index of the schedule's <c>Loss</c> operation, once <see cref="Forward"/> has run.</summary>
    public int LossIndex => _next;

    /// <summary>Runs the operations before <c>Loss</c> and returns <c>x_L</c>, which stays the run's until <see cref="Backward"/>.</summary>
    public Tensor Forward()
    {
        for (; _next < _schedule.Ops.Count && _schedule.Ops[_next].Kind != OpKind.Loss; _next++)
        {
            if (_schedule.Ops[_next].Kind == OpKind.B)
                throw new ScheduleException(_next, $"{_schedule.Ops[_next]} comes before the Loss operation, which makes d_{L}.");
            Measured(_next, gradient: null);
        }
        if (_next == _schedule.Ops.Count)
            throw new ScheduleException(_next, "the schedule has no Loss operation.");
        return Available(L, _next, Op.Loss);
    }

    /// <summary>Whether <c>x_L</c>, once <see cref="Forward"/> has run, is the output of the last stage's record (so its
    /// <c>requires_grad</c> is the plain model's).</summary>
    public bool OutputRecorded => _plain[L] is null && _records[L] is not null;

    /// <summary>The end of the <c>Loss</c> operation: a plain <c>x_L</c> is freed once <c>d_L</c> exists.</summary>
    public void ReleaseOutput() => Free(ref _plain[L]);

    /// <summary>
    /// Takes <paramref name="outputGradient"/> as <c>d_L</c> (made by the <c>Loss</c> operation, after which
    /// <see cref="ReleaseOutput"/> runs), runs the rest of the schedule, and returns <c>d_0</c> when the input requires
    /// grad (else null).
    /// </summary>
    public Tensor? Backward(Tensor outputGradient)
    {
        ReleaseOutput();
        Tensor? gradient = outputGradient;
        for (_next++; _next < _schedule.Ops.Count; _next++)
            gradient = Measured(_next, gradient);
        return gradient;
    }

    private Tensor? Measured(int index, Tensor? gradient)
    {
        if (_recorder is null)
            return Execute(_schedule.Ops[index], index, gradient);
        Tensor? next = null;
        _recorder.Measure(index, () => next = Execute(_schedule.Ops[index], index, gradient));
        return next;
    }

    /// <summary>Runs one operation; a backward operation takes <c>d_k</c> and returns <c>d_{k-1}</c>.</summary>
    private Tensor? Execute(Op op, int index, Tensor? gradient)
    {
        int k = op.Stage;
        switch (op.Kind)
        {
            case OpKind.Fn or OpKind.Fck:
            {
                var x = Available(k - 1, index, op);
                using (var scope = NewDisposeScope())
                using (no_grad())
                    _plain[k] = RunStage(k, x).DetachFromDisposeScope();
                if (op.Kind == OpKind.Fn && k > 1)
                    Free(ref _plain[k - 1]);
                return gradient;
            }
            case OpKind.Fe:
            {
                var x = Available(k - 1, index, op).detach().requires_grad_(k > 1 || _input.requires_grad).DetachFromDisposeScope();
                using (var scope = NewDisposeScope())
                using (enable_grad())
                using (_schedule.PartialRecords.Contains(k) ? PartialRecompute.Enter() : null) // the declared part left out of the record
                    _records[k] = (x, RunStage(k, x).DetachFromDisposeScope());
                return gradient;
            }
            case OpKind.B:
            {
                if (k != _backward)
                    throw new ScheduleException(index, $"{op} needs d_{k}, which only B({k + 1}) makes; the backwards run B({L}) down to B(1).");
                if (_records[k] is not { } record)
                    throw new ScheduleException(index, $"{op} needs the record x̄_{k}.");
                _backward--;
                // Nothing flows back where the stage's output needs no gradient (a first stage without parameters on an
                // input without grad: a flatten, a pooling) or where no gradient came (a stage that detached), as in
                // the plain step: the stages before get none.
                Tensor? next = null;
                if (gradient is not null && record.Output.requires_grad)
                    using (var scope = NewDisposeScope())
                    {
                        using (enable_grad())
                            record.Output.backward([gradient]);
                        if (record.Input.grad is { } g)
                            next = g.detach().MoveToOuterDisposeScope();
                    }
                record.Output.Dispose();
                record.Input.Dispose();
                _records[k] = null;
                gradient?.Dispose();
                Free(ref _plain[k]); // dead: docs/model.md
                if (k > 1)
                    Free(ref _plain[k - 1]);
                return next;
            }
            default:
                throw new ScheduleException(index, "a schedule has one Loss operation.");
        }
    }

    /// <summary>
    /// Runs stage k, replaying the random state of its first run and leaving its running statistics alone when it is a
    /// recomputation.
    /// </summary>
    private Tensor RunStage(int k, Tensor x)
    {
        using var replay = _random.Enter(k);
        using var statistics = _statistics.Enter(k);
        return StageOutput.Own(_stages[k - 1].forward(x), [x]);
    }

    private Tensor Available(int j, int index, Op op) =>
        _plain[j] ?? _records[j]?.Output ?? throw new ScheduleException(index, $"{op} needs x_{j}, which is not stored.");

    private static void Free(ref Tensor? tensor)
    {
        tensor?.Dispose();
        tensor = null;
    }

    /// <summary>Disposes what the run still holds (everything, when it stopped half-way).</summary>
    public void Dispose()
    {
        for (int j = 1; j <= L; j++)
        {
            Free(ref _plain[j]);
            if (_records[j] is { } r)
            {
                r.Output.Dispose();
                r.Input.Dispose();
                _records[j] = null;
            }
        }
    }
}
