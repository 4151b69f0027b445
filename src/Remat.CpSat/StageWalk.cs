namespace Remat.CpSat;

/// <summary>
/// Walks a schedule's operations through the stages of <see cref="StagedModel"/>: stage t &lt;= N closes with the first
/// forward of node t, stage N + j with the backward of node N + 1 - j, and the next stage opens with the operation
/// after the closing one.
/// </summary>
internal sealed class StageWalk(int nodes)
{
    private readonly bool[] _seen = new bool[nodes + 1];

    /// <summary>The current stage.</summary>
    public int Stage { get; private set; } = 1;

    /// <summary>The node of the stage's last forward so far; 0 before any.</summary>
    public int Last { get; private set; }

    /// <summary>True once the stage's closing operation has run.</summary>
    public bool Closed { get; private set; }

    /// <summary>Opens the next stage where the current one has closed; true when it did.</summary>
    public bool Open()
    {
        if (!Closed)
            return false;
        (Stage, Last, Closed) = (Stage + 1, 0, false);
        return true;
    }

    /// <summary>A forward of node <paramref name="v"/> in the current stage, which it closes if it is the stage node's first.</summary>
    public void Forward(int v)
    {
        Last = v;
        if (Stage <= nodes && v == Stage && !_seen[v])
            Closed = _seen[v] = true;
    }

    /// <summary>The stage's backward, which closes it.</summary>
    public void Backward() => Closed = true;

    /// <summary>Every forward of <paramref name="schedule"/>: its stage and node.</summary>
    public static IEnumerable<(int Stage, int Node)> Forwards(Schedule schedule, int nodes)
    {
        var walk = new StageWalk(nodes);
        foreach (var op in schedule.Ops)
        {
            if (op.Kind is OpKind.Fe or OpKind.Fck or OpKind.Fn or OpKind.Loss or OpKind.B)
                walk.Open();
            if (op.Kind is OpKind.Fe or OpKind.Fck or OpKind.Fn)
            {
                yield return (walk.Stage, op.Stage);
                walk.Forward(op.Stage);
            }
            else if (op.Kind == OpKind.B)
                walk.Backward();
        }
    }
}
