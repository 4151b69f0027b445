namespace Remat;

/// <summary>
/// Memory and time over the operations of a schedule: what the <see cref="Simulator"/> computes while replaying it on a
/// chain (the plan), or what a real step measured (<c>ScheduleExecutor.Measure</c> in Remat.Torch).
/// </summary>
public sealed class Trace
{
    /// <summary>
    /// A trace of <paramref name="schedule"/>: the simulator's, or one measured on a real step (the TorchSharp executor's),
    /// with the memory after and the peak during each operation, the cumulative time after each, and the forwards per stage.
    /// </summary>
    public Trace(Schedule schedule, long[] memoryAfter, long[] peakDuring, double[] timeAfter, int[] forwardsPerStage)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        int n = schedule.Ops.Count;
        if (memoryAfter.Length != n || peakDuring.Length != n || timeAfter.Length != n)
            throw new ArgumentException($"a trace has one entry per operation: the schedule has {n}.");
        Schedule = schedule;
        MemoryAfter = memoryAfter;
        PeakDuring = peakDuring;
        TimeAfter = timeAfter;
        ForwardsPerStage = forwardsPerStage;
        PeakBytes = memoryAfter.Length == 0 ? 0 : Math.Max(memoryAfter.Max(), peakDuring.Max());
        Time = timeAfter.Length == 0 ? 0 : timeAfter[^1];
        ForwardCount = forwardsPerStage.Sum(c => (long)c);
    }

    /// <summary>The replayed schedule.</summary>
    public Schedule Schedule { get; }

    /// <summary>Live memory after each operation.</summary>
    public IReadOnlyList<long> MemoryAfter { get; }

    /// <summary>Peak memory during each operation, its transient memory included.</summary>
    public IReadOnlyList<long> PeakDuring { get; }

    /// <summary>Cumulative time after each operation.</summary>
    public IReadOnlyList<double> TimeAfter { get; }

    /// <summary>Forward operations per stage: index k-1 for stage k.</summary>
    public IReadOnlyList<int> ForwardsPerStage { get; }

    /// <summary>The overall peak: the largest of the during and after values.</summary>
    public long PeakBytes { get; }

    /// <summary>The total time: forward times of the forward operations plus backward times.</summary>
    public double Time { get; }

    /// <summary>The number of forward operations (Fn + Fck + Fe).</summary>
    public long ForwardCount { get; }

    /// <summary>How many times stage k (1-based) is recomputed: its forwards beyond the first.</summary>
    public int Recomputes(int k) => Math.Max(0, ForwardsPerStage[k - 1] - 1);
}
