namespace Remat;

/// <summary>
/// One stage of a <see cref="Chain"/>: stage k computes x_k from x_{k-1}
/// (the symbols of the chain model, after Beaumont et al. 2019).
/// </summary>
/// <param name="Name">A label for reports; not used by the planners.</param>
/// <param name="ForwardTime">f_k: the time of one forward of the stage (any unit, at least 0).</param>
/// <param name="BackwardTime">b_k: the time of its backward (at least 0).</param>
/// <param name="OutputBytes">a_k: the size of x_k; the gradient d_k has the same size.</param>
/// <param name="SavedBytes">abar_k: everything the stage keeps for its backward when recorded, its output included.</param>
/// <param name="ForwardTempBytes">ftmp_k: transient memory while the forward runs.</param>
/// <param name="BackwardTempBytes">btmp_k: transient memory while the backward runs.</param>
/// <param name="Partial">The stage's partial record, where it declares a part to recompute in its backward; null where it has none.</param>
public sealed record Stage(
    string Name,
    double ForwardTime,
    double BackwardTime,
    long OutputBytes,
    long SavedBytes,
    long ForwardTempBytes = 0,
    long BackwardTempBytes = 0,
    PartialRecord? Partial = null)
{
    /// <summary>
    /// The stage as it runs from its partial record: the record's size, backward time and temporaries replaced, and the
    /// forward's temporaries the larger of the two (the chain model has one figure for all of a stage's forwards).
    /// </summary>
    public Stage WithPartialRecord() => Partial is { } p
        ? this with
        {
            SavedBytes = p.SavedBytes, BackwardTime = p.BackwardTime, BackwardTempBytes = p.BackwardTempBytes,
            ForwardTempBytes = Math.Max(ForwardTempBytes, p.ForwardTempBytes), Partial = null,
        }
        : throw new ChainException($"stage '{Name}' has no partial record: it declares no part to recompute in its backward.");
}
