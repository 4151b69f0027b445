namespace Remat.Planners;

/// <summary>No checkpointing: Fe(1) ... Fe(L), Loss, B(L) ... B(1). Its time is the baseline of every overhead.</summary>
public sealed class StoreAll : IPlanner
{
    /// <inheritdoc />
    public string Name => "storeall";

    /// <inheritdoc />
    public Schedule Plan(Chain chain)
    {
        var ops = new List<Op>(2 * chain.Length + 1);
        for (int k = 1; k <= chain.Length; k++)
            ops.Add(Op.Fe(k));
        ops.Add(Op.Loss);
        for (int k = chain.Length; k >= 1; k--)
            ops.Add(Op.B(k));
        return new Schedule(Name, ops);
    }
}
