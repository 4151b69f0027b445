namespace Remat.Torch;

/// <summary>The CPU's memory as the process's resident set (<see cref="MemoryMeter"/>, Linux).</summary>
internal sealed class ResidentMemory : DeviceMemory
{
    private static readonly ResidentMemory Instance = new();

    /// <summary>The resident set, with glibc's settings for measuring it made; refused outside Linux.</summary>
    public static ResidentMemory Open()
    {
        if (!MemoryMeter.IsSupported)
            throw new RematException("Remat measures the CPU's memory through Linux's /proc (the resident set and its high-water mark), which " +
                                     "this system lacks: plan by a strategy with its settings (PlanOptions.Strategy, Segments, Snapshots) and " +
                                     "run it with ScheduleExecutor.Step, which measures nothing.");
        MemoryMeter.Initialize();
        return Instance;
    }

    public override string Source => "resident set";

    public override long Current() => MemoryMeter.Resident();

    public override long Peak() => MemoryMeter.Peak();

    public override void ResetPeak() => MemoryMeter.ResetPeak();

    public override long PeakAbove(Action action) => MemoryMeter.PeakAbove(action);
}
