namespace Remat;

/// <summary>
/// A network as a chain of stages: x0 is the input, stage k (1-based) computes x_k from x_{k-1},
/// and a loss that costs nothing follows the last stage. Immutable and validated on construction.
/// </summary>
public sealed class Chain
{
    private readonly Stage[] _stages;

    /// <summary>Creates a chain; throws <see cref="ChainException"/> naming the first bad stage and field.</summary>
    /// <param name="inputBytes">a_0, the size of the input x0.</param>
    /// <param name="stages">The stages, first to last; at least one.</param>
    /// <param name="name">An optional label.</param>
    public Chain(long inputBytes, IEnumerable<Stage> stages, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(stages);
        _stages = stages.ToArray();
        Name = name;
        InputBytes = inputBytes;
        ValidateAll(inputBytes, _stages);
    }

    /// <summary>Validates the input's size, every stage and the sum of all sizes (shared with <see cref="Graph"/>).</summary>
    internal static void ValidateAll(long inputBytes, IReadOnlyList<Stage> stages)
    {
        if (inputBytes < 0)
            throw new ChainException($"input.bytes is {inputBytes}; a size must be 0 or more.");
        if (stages.Count == 0)
            throw new ChainException("there are no stages; give at least one.");
        for (int k = 1; k <= stages.Count; k++)
            Validate(k, stages[k - 1]);
        Int128 total = inputBytes;
        foreach (var s in stages)
            total += (Int128)s.OutputBytes + s.SavedBytes + s.ForwardTempBytes + s.BackwardTempBytes;
        if (total > MaxTotalBytes)
            throw new ChainException(
                $"the sizes add up to {total} bytes, more than the {MaxTotalBytes} bytes (2 EiB) Remat can account for; check the units of the sizes.");
    }

    /// <summary>The largest sum of all sizes of a chain: memory sums stay far from 64-bit overflow.</summary>
    public const long MaxTotalBytes = 1L << 61;

    /// <summary>An optional label.</summary>
    public string? Name { get; }

    /// <summary>a_0: the size of the input x0.</summary>
    public long InputBytes { get; }

    /// <summary>L, the number of stages.</summary>
    public int Length => _stages.Length;

    /// <summary>The stages in order; <c>Stages[k - 1]</c> is stage k.</summary>
    public IReadOnlyList<Stage> Stages => _stages;

    /// <summary>Stage k, 1-based as in the model.</summary>
    public Stage this[int k] => _stages[k - 1];

    /// <summary>a_k, the size of x_k (and of d_k); k = 0 is the input.</summary>
    public long OutputBytes(int k) => k == 0 ? InputBytes : _stages[k - 1].OutputBytes;

    /// <summary>Whether any stage has a partial record to choose.</summary>
    public bool HasPartialRecords => _stages.Any(s => s.Partial is not null);

    /// <summary>
    /// The chain as it runs when the stages <paramref name="partial"/> are recorded partially: each of them with its
    /// partial record's size, backward time and temporaries (docs/model.md, "Partial records"; <see cref="Graph.WithPartialRecords"/>).
    /// </summary>
    public Chain WithPartialRecords(IReadOnlyCollection<int> partial) =>
        partial is { Count: 0 } ? this : Simulator.GraphOf(this).WithPartialRecords(partial).ToChain();

    /// <summary>The store-all time sum(f) + sum(b): the baseline of every overhead.</summary>
    public double BaselineTime => _stages.Sum(s => s.ForwardTime + s.BackwardTime);

    /// <summary>
    /// A chain of <paramref name="length"/> identical stages whose input has the size of a stage output.
    /// </summary>
    public static Chain Uniform(int length, long outputBytes, long savedBytes, double forwardTime = 1, double backwardTime = 2,
        long forwardTempBytes = 0, long backwardTempBytes = 0)
    {
        if (length < 1)
            throw new ChainException($"a chain needs at least one stage, not {length}.");
        var stages = Enumerable.Range(1, length).Select(k =>
            new Stage($"stage{k}", forwardTime, backwardTime, outputBytes, savedBytes, forwardTempBytes, backwardTempBytes));
        return new Chain(outputBytes, stages, $"uniform-{length}");
    }

    /// <summary>
    /// A seeded synthetic chain whose stages differ like a CNN's: outputs of 1-8 MiB, saved 1-4 times the output,
    /// temps up to a quarter of it, forward times 0.5-3.5 and backward times 1-7.
    /// </summary>
    public static Chain Heterogeneous(int length, int seed = 42)
    {
        if (length < 1)
            throw new ChainException($"a chain needs at least one stage, not {length}.");
        var rng = new Random(seed);
        var stages = Enumerable.Range(1, length).Select(k =>
        {
            long a = rng.NextInt64(1L << 20, 8L << 20);
            return new Stage($"stage{k}", rng.NextDouble() * 3 + 0.5, rng.NextDouble() * 6 + 1, a, a + rng.NextInt64(0, 3 * a),
                rng.NextInt64(0, a / 4), rng.NextInt64(0, a / 4));
        });
        return new Chain(4L << 20, stages, $"heterogeneous-{length}");
    }

    private static void Validate(int k, Stage s)
    {
        string where = $"stage {k}" + (string.IsNullOrEmpty(s.Name) ? "" : $" ('{s.Name}')");
        CheckTime(where, "forwardTime", s.ForwardTime);
        CheckTime(where, "backwardTime", s.BackwardTime);
        CheckSize(where, "outputBytes", s.OutputBytes);
        CheckSize(where, "savedBytes", s.SavedBytes);
        CheckSize(where, "forwardTempBytes", s.ForwardTempBytes);
        CheckSize(where, "backwardTempBytes", s.BackwardTempBytes);
        if (s.SavedBytes < s.OutputBytes)
            throw new ChainException(
                $"{where}: savedBytes ({s.SavedBytes}) is less than outputBytes ({s.OutputBytes}); " +
                "what a stage saves for its backward includes its output, so savedBytes must be at least outputBytes.");
        if (s.Partial is { } p)
        {
            CheckTime(where, "partial.backwardTime", p.BackwardTime);
            CheckSize(where, "partial.savedBytes", p.SavedBytes);
            CheckSize(where, "partial.backwardTempBytes", p.BackwardTempBytes);
            CheckSize(where, "partial.forwardTempBytes", p.ForwardTempBytes);
            if (p.SavedBytes < s.OutputBytes || p.SavedBytes > s.SavedBytes)
                throw new ChainException(
                    $"{where}: partial.savedBytes ({p.SavedBytes}) must lie between outputBytes ({s.OutputBytes}) and savedBytes ({s.SavedBytes}): " +
                    "a partial record keeps the output and less than the full record.");
        }
    }

    private static void CheckTime(string where, string field, double value)
    {
        if (!double.IsFinite(value) || value < 0)
            throw new ChainException($"{where}: {field} is {value}; a time must be a finite number, 0 or more.");
    }

    private static void CheckSize(string where, string field, long value)
    {
        if (value < 0)
            throw new ChainException($"{where}: {field} is {value}; a size must be 0 or more bytes.");
    }
}
