namespace Remat;

/// <summary>The operations of the chain model.</summary>
public enum OpKind : byte
{
    /// <summary>Forward without recording; stores x_k plain and frees a plain x_{k-1} (never x0).</summary>
    Fn,
    /// <summary>Forward without recording; stores x_k plain and frees nothing: x_{k-1} stays as a checkpoint.</summary>
    Fck,
    /// <summary>Forward with recording; stores the record x̄_k, which holds x_k; frees nothing.</summary>
    Fe,
    /// <summary>The loss: needs x_L, stores d_L, frees a plain x_L.</summary>
    Loss,
    /// <summary>Backward of stage k: needs x̄_k and d_k, frees both, stores d_{k-1}, frees a plain x_{k-1}.</summary>
    B,
    /// <summary>Graph schedules only: frees the plain x_k (a chain frees through Fn, Loss and B).</summary>
    Free,
}

/// <summary>One operation of a schedule; <see cref="Stage"/> is 1-based and 0 for <see cref="OpKind.Loss"/>.</summary>
public readonly record struct Op(OpKind Kind, int Stage)
{
    /// <summary>Fn(k).</summary>
    public static Op Fn(int k) => new(OpKind.Fn, k);

    /// <summary>Fck(k).</summary>
    public static Op Fck(int k) => new(OpKind.Fck, k);

    /// <summary>Fe(k).</summary>
    public static Op Fe(int k) => new(OpKind.Fe, k);

    /// <summary>The loss.</summary>
    public static Op Loss => new(OpKind.Loss, 0);

    /// <summary>B(k).</summary>
    public static Op B(int k) => new(OpKind.B, k);

    /// <summary>Free(k), for graph schedules.</summary>
    public static Op Free(int k) => new(OpKind.Free, k);

    /// <summary>True for Fn, Fck and Fe.</summary>
    public bool IsForward => Kind is OpKind.Fn or OpKind.Fck or OpKind.Fe;

    /// <inheritdoc />
    public override string ToString() => Kind == OpKind.Loss ? "Loss" : $"{Kind}({Stage})";
}
