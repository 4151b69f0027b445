namespace Remat;

/// <summary>
/// A stage's partial record: what it keeps when a declared part of it (the attention core of a transformer layer, or
/// any sub-module) is left out of the record and recomputed at the start of the stage's backward (docs/model.md,
/// "Partial records"). The rest of the stage is as in its full record.
/// </summary>
/// <param name="SavedBytes">What the partial record keeps, the stage's output included: between outputBytes and savedBytes.</param>
/// <param name="BackwardTime">The stage's backward from a partial record, the part's recomputation included.</param>
/// <param name="BackwardTempBytes">Transient memory of that backward, the part's recomputed tensors included.</param>
/// <param name="ForwardTempBytes">Transient memory of the forward that makes the partial record (the part's own
/// temporaries, which it frees): the stage's forwards take the larger of it and the stage's forwardTempBytes.</param>
public sealed record PartialRecord(long SavedBytes, double BackwardTime, long BackwardTempBytes = 0, long ForwardTempBytes = 0);
