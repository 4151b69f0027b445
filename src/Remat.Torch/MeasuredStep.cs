namespace Remat.Torch;

/// <summary>One measured training step: its loss, and the trace of what every operation took (<see cref="ScheduleExecutor.Measure"/>).</summary>
public sealed record MeasuredStep(float Loss, Trace Trace);
