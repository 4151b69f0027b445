namespace Remat.Planners;

/// <summary>
/// Megatron's recompute settings on a chain (Korthikanti et al. 2022, sections 5 and 6): selective recompute records
/// every stage partially (where a stage has a partial record; fully otherwise) and recomputes nothing else; on top, the
/// first <c>n</c> stages are recomputed whole from their inputs (Megatron's <c>recompute_num_layers</c> with the block
/// method). With a budget, n is the fewest that fit; without one, n = 0. One setting for every stage: the baseline the
/// per-stage choice of <see cref="Optimal"/> is measured against.
/// </summary>
public sealed class SelectiveRecompute(long? budgetBytes = null) : IPlanner
{
    /// <inheritdoc />
    public string Name => "selective";

    /// <inheritdoc />
    public Schedule Plan(Chain chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        for (int n = 0; n <= chain.Length; n++)
        {
            var schedule = WithFullStages(chain, n);
            if (budgetBytes is not { } budget || Simulator.Run(chain, schedule).PeakBytes <= budget)
                return schedule;
        }
        return WithFullStages(chain, chain.Length); // the caller reports the overrun, with its peak
    }

    /// <summary>
    /// Stages 1..<paramref name="full"/> kept as their inputs and recomputed in the backward, the others recorded (partially
    /// where they can be) in the forward: <c>Fck(1) .. Fck(n) Fe(n+1) .. Fe(L) Loss B(L) .. B(n+1)</c>, then
    /// <c>Fe(k) B(k)</c> for k = n down to 1.
    /// </summary>
    public Schedule WithFullStages(Chain chain, int full)
    {
        ArgumentNullException.ThrowIfNull(chain);
        int L = chain.Length;
        ArgumentOutOfRangeException.ThrowIfNegative(full);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(full, L);
        var ops = new List<Op>();
        for (int k = 1; k <= L; k++)
            ops.Add(k <= full ? Op.Fck(k) : Op.Fe(k));
        ops.Add(Op.Loss);
        for (int k = L; k > full; k--)
            ops.Add(Op.B(k));
        for (int k = full; k >= 1; k--)
        {
            ops.Add(Op.Fe(k));
            ops.Add(Op.B(k));
        }
        return new Schedule(Name, ops, Enumerable.Range(full + 1, L - full).Where(k => chain[k].Partial is not null));
    }
}
