namespace Remat;

/// <summary>
/// Replays a schedule on a chain under the memory rules of the chain model and returns its <see cref="Trace"/>.
/// It is the single source of truth for peak memory and time: planners' own estimates never are.
/// </summary>
public static class Simulator
{
    /// <summary>
    /// Replays <paramref name="schedule"/>; throws <see cref="ScheduleException"/> with the index of the
    /// first operation that is invalid, and what it lacked.
    /// </summary>
    public static Trace Run(Chain chain, Schedule schedule) => Run(chain, schedule, complete: true);

    /// <summary>As <see cref="Run(Chain, Schedule)"/>; without <paramref name="complete"/>, a valid prefix of a schedule passes.</summary>
    internal static Trace Run(Chain chain, Schedule schedule, bool complete)
    {
        int n = schedule.Ops.Count, L = chain.Length;
        var memoryAfter = new long[n];
        var peakDuring = new long[n];
        var timeAfter = new double[n];
        var forwards = new int[L];
        var plain = new bool[L + 1];
        var record = new bool[L + 1];
        plain[0] = true;
        long mem = chain.InputBytes;
        double time = 0;
        bool lossDone = false;
        int nextBackward = L; // the stage whose backward comes next; d_nextBackward is live once the loss ran

        for (int i = 0; i < n; i++)
        {
            var op = schedule.Ops[i];
            int k = op.Stage;
            long during;
            switch (op.Kind)
            {
                case OpKind.Fn or OpKind.Fck or OpKind.Fe:
                {
                    if (k < 1 || k > L)
                        throw new ScheduleException(i, $"{op}: there is no stage {k}; the chain has stages 1 to {L}.");
                    if (!plain[k - 1] && !record[k - 1])
                        throw new ScheduleException(i, $"{op} needs x_{k - 1}, which is not stored (neither plain nor in a record).");
                    var s = chain[k];
                    if (op.Kind == OpKind.Fe)
                    {
                        if (record[k])
                            throw new ScheduleException(i, $"{op} would store the record x̄_{k} a second time.");
                        during = mem + s.SavedBytes + s.ForwardTempBytes;
                        record[k] = true;
                        mem += s.SavedBytes;
                    }
                    else
                    {
                        if (plain[k])
                            throw new ScheduleException(i, $"{op} would store x_{k} plain a second time.");
                        during = mem + s.OutputBytes + s.ForwardTempBytes;
                        plain[k] = true;
                        mem += s.OutputBytes;
                        if (op.Kind == OpKind.Fn && k > 1 && plain[k - 1])
                        {
                            plain[k - 1] = false;
                            mem -= chain.OutputBytes(k - 1);
                        }
                    }
                    time += s.ForwardTime;
                    forwards[k - 1]++;
                    break;
                }
                case OpKind.Loss:
                    if (lossDone)
                        throw new ScheduleException(i, "Loss runs a second time; it must run exactly once, before B(L).");
                    if (!plain[L] && !record[L])
                        throw new ScheduleException(i, $"Loss needs x_{L}, which is not stored (neither plain nor in a record).");
                    lossDone = true;
                    during = mem + chain.OutputBytes(L);
                    mem += chain.OutputBytes(L);
                    if (plain[L])
                    {
                        plain[L] = false;
                        mem -= chain.OutputBytes(L);
                    }
                    break;
                case OpKind.B:
                {
                    if (k < 1 || k > L)
                        throw new ScheduleException(i, $"{op}: there is no stage {k}; the chain has stages 1 to {L}.");
                    if (!lossDone)
                        throw new ScheduleException(i, $"{op} runs before the Loss, so d_{k} does not exist; run Loss once before B({L}).");
                    if (k != nextBackward)
                        throw new ScheduleException(i, nextBackward == 0
                            ? $"{op} runs after B(1); every backward runs exactly once."
                            : $"{op} is out of order: the backward that comes next is B({nextBackward}) (order B({L}) ... B(1)).");
                    if (!record[k])
                        throw new ScheduleException(i, $"{op} needs the record x̄_{k}, which is not stored; run Fe({k}) before it.");
                    var s = chain[k];
                    during = mem + s.BackwardTempBytes;
                    record[k] = false;
                    mem -= s.SavedBytes + s.OutputBytes;          // x̄_k and d_k
                    mem += chain.OutputBytes(k - 1);              // d_{k-1}
                    if (plain[k - 1])
                    {
                        plain[k - 1] = false;
                        mem -= chain.OutputBytes(k - 1);
                    }
                    nextBackward--;
                    time += s.BackwardTime;
                    break;
                }
                case OpKind.Free:
                    throw new ScheduleException(i, $"{op} is an operation of graph schedules; in a chain, Fn, Loss and B free what they no longer need.");
                default:
                    throw new ScheduleException(i, $"unknown operation {op.Kind}.");
            }
            memoryAfter[i] = mem;
            peakDuring[i] = Math.Max(during, mem);
            timeAfter[i] = time;
        }

        if (complete && !lossDone)
            throw new ScheduleException(n, "the schedule ends before the Loss; a schedule runs Loss once, then B(L) ... B(1).");
        if (complete && nextBackward > 0)
            throw new ScheduleException(n, $"the schedule ends before B({nextBackward}); every backward B({L}) ... B(1) must run.");
        return new Trace(schedule, memoryAfter, peakDuring, timeAfter, forwards);
    }
}
