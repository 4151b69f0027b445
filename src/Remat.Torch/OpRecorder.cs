using System.Diagnostics;

namespace Remat.Torch;

/// <summary>
/// Measures every operation of one step as the simulator describes it: the wall time, the memory after it and the
/// peak during it. Memory is the device's (<see cref="DeviceMemory"/>: the resident set on the CPU, the memory pool on
/// CUDA) above where it stood when the step began, plus the input's bytes, so that it reads like the simulator's trace
/// (which starts at the input). Each operation's time ends when the device has finished its work.
/// </summary>
internal sealed class OpRecorder
{
    private readonly Schedule _schedule;
    private readonly int _stages;
    private readonly long[] _memoryAfter, _peakDuring;
    private readonly double[] _timeAfter;
    private readonly DeviceMemory _memory;
    private readonly long _base;
    private double _elapsed;

    /// <summary>A recorder for one run of <paramref name="schedule"/> on <paramref name="stages"/> stages.</summary>
    public OpRecorder(Schedule schedule, int stages, long inputBytes, DeviceMemory memory)
    {
        _memory = memory;
        _schedule = schedule;
        _stages = stages;
        int operations = schedule.Ops.Count;
        _memoryAfter = new long[operations];
        _peakDuring = new long[operations];
        _timeAfter = new double[operations];
        _memory.Synchronize();
        _base = _memory.Current() - inputBytes;
    }

    /// <summary>Runs <paramref name="step"/> with a recorder for it and returns its loss with the measured trace.</summary>
    public static MeasuredStep Measure(Schedule schedule, int stages, TorchSharp.torch.Tensor input, Func<OpRecorder, float> step)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        ArgumentNullException.ThrowIfNull(input);
        var recorder = new OpRecorder(schedule, stages, input.numel() * input.ElementSize, DeviceMemory.For(input.device));
        return new MeasuredStep(step(recorder), recorder.ToTrace());
    }

    /// <summary>Runs operation <paramref name="index"/> and records its time, memory after and peak during.</summary>
    public void Measure(int index, Action operation)
    {
        _memory.ResetPeak();
        var watch = Stopwatch.StartNew();
        operation();
        _memory.Synchronize();
        _elapsed += watch.Elapsed.TotalSeconds;
        _timeAfter[index] = _elapsed;
        _memoryAfter[index] = _memory.Current() - _base;
        _peakDuring[index] = Math.Max(_memoryAfter[index], _memory.Peak() - _base);
    }

    /// <summary>The measurements as a trace of the schedule; the executor runs every forward operation of it once.</summary>
    public Trace ToTrace()
    {
        var forwards = new int[_stages];
        foreach (var op in _schedule.Ops.Where(o => o.IsForward))
            forwards[op.Stage - 1]++;
        return new(_schedule, _memoryAfter, _peakDuring, _timeAfter, forwards);
    }
}
