namespace Remat.Planners;

/// <summary>
/// The family of schedules of Beaumont et al. 2019 ("Optimal checkpointing for heterogeneous chains",
/// the rotor tool), written out as operations. An interval of stages s..t (its input x_{s-1} held by the
/// caller, the gradient d_t held throughout) is processed in one of two ways:
/// <list type="bullet">
/// <item>record: Fe(s), process s+1..t with x̄_s held, B(s) (a single stage: Fe(s), B(s));</item>
/// <item>checkpoint j: Fck(s), Fn(s+1) ... Fn(j-1) to store x_{j-1}, process j..t, then s..j-1.</item>
/// </list>
/// The top interval s..L also runs the loss once x_L exists.
/// </summary>
internal static class RotorFamily
{
    /// <summary>The choice for one interval: 0 records stage s, j &gt; s checkpoints x_{j-1}; and the memory handed to the parts.</summary>
    internal readonly record struct Choice(int Checkpoint, long RightMemory, long LeftMemory);

    /// <summary>Picks how an interval is processed, given the memory it may use.</summary>
    internal interface IChooser
    {
        /// <summary>The choice for s..t with the gradient d_t held.</summary>
        Choice Interval(int s, int t, long memory);

        /// <summary>The choice for s..L before the loss has run.</summary>
        Choice Top(int s, long memory);
    }

    /// <summary>The whole schedule for a chain of <paramref name="length"/> stages.</summary>
    public static Schedule Emit(string strategy, int length, IChooser chooser, long memory)
    {
        var ops = new List<Op>(4 * length);
        Top(ops, chooser, 1, length, memory);
        return new Schedule(strategy, ops);
    }

    private static void Top(List<Op> ops, IChooser chooser, int s, int length, long memory)
    {
        if (s == length + 1)
        {
            ops.Add(Op.Loss);
            return;
        }
        var c = chooser.Top(s, memory);
        if (c.Checkpoint == 0)
        {
            ops.Add(Op.Fe(s));
            Top(ops, chooser, s + 1, length, c.RightMemory);
            ops.Add(Op.B(s));
        }
        else
        {
            Advance(ops, s, c.Checkpoint - 1);
            Top(ops, chooser, c.Checkpoint, length, c.RightMemory);
            Interval(ops, chooser, s, c.Checkpoint - 1, c.LeftMemory);
        }
    }

    private static void Interval(List<Op> ops, IChooser chooser, int s, int t, long memory)
    {
        var c = s == t ? new Choice(0, 0, 0) : chooser.Interval(s, t, memory);
        if (c.Checkpoint == 0)
        {
            ops.Add(Op.Fe(s));
            if (t > s)
                Interval(ops, chooser, s + 1, t, c.RightMemory);
            ops.Add(Op.B(s));
        }
        else
        {
            Advance(ops, s, c.Checkpoint - 1);
            Interval(ops, chooser, c.Checkpoint, t, c.RightMemory);
            Interval(ops, chooser, s, c.Checkpoint - 1, c.LeftMemory);
        }
    }

    /// <summary>Fck(s), Fn(s+1) ... Fn(end): x_end stored plain, x_{s-1} kept.</summary>
    private static void Advance(List<Op> ops, int s, int end)
    {
        ops.Add(Op.Fck(s));
        for (int k = s + 1; k <= end; k++)
            ops.Add(Op.Fn(k));
    }
}
