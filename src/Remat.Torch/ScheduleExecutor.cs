using TorchSharp;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// Runs one training step of a chain of TorchSharp modules by a schedule of the core, op by op, with the
/// memory rules of the chain model: <c>Fn</c>/<c>Fck</c> run under no-grad, <c>Fe</c> records the stage on a
/// detached input, <c>B</c> back-propagates the stage with its incoming gradient. Parameter gradients
/// accumulate into <c>.grad</c> exactly as in a plain step, and so does the input's gradient when the input requires
/// grad: into its <c>.grad</c> for a leaf, on into the graph that produced it otherwise. Every tensor a freed op drops is disposed at once.
/// A recomputed stage sees the random state of its first run in the step, so dropout draws the same mask
/// (CPU generator), as PyTorch's checkpoint does with <c>preserve_rng_state</c>.
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
    public float Step(Schedule schedule, Tensor input, Func<Tensor, Tensor> loss)
    {
        int L = _stages.Length;
        var plain = new Tensor?[L + 1];
        var records = new (Tensor Input, Tensor Output)?[L + 1];
        plain[0] = input;
        Tensor? gradient = null;
        float lossValue = float.NaN;
        var firstRun = new Tensor?[L + 1]; // the random state before each stage's first forward in this step
        try
        {
            for (int i = 0; i < schedule.Ops.Count; i++)
            {
                var op = schedule.Ops[i];
                int k = op.Stage;
                switch (op.Kind)
                {
                    case OpKind.Fn or OpKind.Fck:
                    {
                        var x = Available(plain, records, k - 1, i, op);
                        using (var scope = NewDisposeScope())
                        using (no_grad())
                            plain[k] = Forward(k, x, firstRun).MoveToOuterDisposeScope();
                        if (op.Kind == OpKind.Fn && k > 1)
                            Free(ref plain[k - 1]);
                        break;
                    }
                    case OpKind.Fe:
                    {
                        var source = Available(plain, records, k - 1, i, op);
                        var x = source.detach().requires_grad_(k > 1 || input.requires_grad);
                        using (var scope = NewDisposeScope())
                        using (enable_grad())
                            records[k] = (x, Forward(k, x, firstRun).MoveToOuterDisposeScope());
                        break;
                    }
                    case OpKind.Loss:
                    {
                        var z = Available(plain, records, L, i, op).detach().requires_grad_(true);
                        using (var scope = NewDisposeScope())
                        {
                            using (enable_grad())
                            {
                                var value = loss(z);
                                value.backward();
                                lossValue = value.item<float>();
                            }
                            gradient = z.grad!.detach().MoveToOuterDisposeScope();
                        }
                        z.Dispose();
                        Free(ref plain[L]);
                        break;
                    }
                    case OpKind.B:
                    {
                        if (records[k] is not { } record || gradient is null)
                            throw new ScheduleException(i, $"{op} needs the record x̄_{k} and d_{k}.");
                        Tensor? next = null;
                        using (var scope = NewDisposeScope())
                        {
                            using (enable_grad())
                                record.Output.backward([gradient]);
                            if (record.Input.requires_grad)
                                next = record.Input.grad!.detach().MoveToOuterDisposeScope();
                        }
                        if (k == 1 && next is not null)
                        {
                            // d_0 flows on into whatever produced the input (an embedding, a stem) or into a leaf's .grad.
                            input.backward([next]);
                        }
                        record.Output.Dispose();
                        record.Input.Dispose();
                        records[k] = null;
                        gradient.Dispose();
                        gradient = next;
                        if (k > 1)
                            Free(ref plain[k - 1]);
                        break;
                    }
                }
            }
            return lossValue;
        }
        finally
        {
            for (int j = 1; j <= L; j++)
            {
                Free(ref plain[j]);
                if (records[j] is { } r)
                {
                    r.Output.Dispose();
                    r.Input.Dispose();
                }
            }
            gradient?.Dispose();
            foreach (var state in firstRun)
                state?.Dispose();
        }
    }

    /// <summary>Runs stage k, replaying the random state of its first run when it is a recomputation.</summary>
    private Tensor Forward(int k, Tensor x, Tensor?[] firstRun)
    {
        if (firstRun[k] is not { } state)
        {
            firstRun[k] = random.get_rng_state().MoveToOuterDisposeScope();
            return _stages[k - 1].forward(x);
        }
        var outer = random.get_rng_state();
        random.set_rng_state(state);
        var y = _stages[k - 1].forward(x);
        random.set_rng_state(outer);
        return y;
    }

    private static Tensor Available(Tensor?[] plain, (Tensor Input, Tensor Output)?[] records, int j, int index, Op op) =>
        plain[j] ?? records[j]?.Output ?? throw new ScheduleException(index, $"{op} needs x_{j}, which is not stored.");

    private static void Free(ref Tensor? tensor)
    {
        tensor?.Dispose();
        tensor = null;
    }
}
