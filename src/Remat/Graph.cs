namespace Remat;

/// <summary>
/// A network as a graph of stages (nodes): x0 is the input, node v (1-based, in topological order) computes x_v from
/// the outputs of its inputs, and a loss that costs nothing follows the last node, the output. A chain is the graph
/// whose node k takes x_{k-1}. Every term of a node is a stage's (<see cref="Stage"/>); the semantics of graph
/// schedules are in docs/model.md. Immutable and validated on construction.
/// </summary>
public sealed class Graph
{
    private readonly Stage[] _nodes;
    private readonly int[][] _inputs, _consumers;

    /// <summary>Creates a graph; throws <see cref="ChainException"/> naming the first bad node and field.</summary>
    /// <param name="inputBytes">a_0, the size of the input x0.</param>
    /// <param name="nodes">The nodes in topological order; at least one. The last is the output.</param>
    /// <param name="inputs">For each node, the nodes it reads (0 is x0), each earlier than the node and listed once.</param>
    /// <param name="name">An optional label.</param>
    public Graph(long inputBytes, IEnumerable<Stage> nodes, IEnumerable<IReadOnlyList<int>> inputs, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        ArgumentNullException.ThrowIfNull(inputs);
        _nodes = nodes.ToArray();
        _inputs = inputs.Select(i => i.ToArray()).ToArray();
        Name = name;
        InputBytes = inputBytes;
        Chain.ValidateAll(inputBytes, _nodes);
        if (_inputs.Length != _nodes.Length)
            throw new ChainException($"the graph has {_nodes.Length} stages and {_inputs.Length} lists of inputs; give one list per stage.");
        var consumers = Enumerable.Range(0, _nodes.Length + 1).Select(_ => new List<int>()).ToArray();
        for (int v = 1; v <= _nodes.Length; v++)
        {
            var ins = _inputs[v - 1];
            string where = Where(v);
            if (ins.Length == 0)
                throw new ChainException($"{where} has no inputs; give at least one (0 is the graph's input).");
            foreach (int u in ins)
            {
                if (u < 0 || u >= v)
                    throw new ChainException($"{where} reads {u}; a stage reads earlier stages only (0 to {v - 1}), so list the stages in topological order.");
                if (consumers[u].Contains(v))
                    throw new ChainException($"{where} lists input {u} twice; list each input once.");
                consumers[u].Add(v);
            }
        }
        for (int u = 1; u < _nodes.Length; u++)
            if (consumers[u].Count == 0)
                throw new ChainException($"{Where(u)} is read by no later stage; every stage but the last must lead to the output.");
        _consumers = consumers.Select(c => c.ToArray()).ToArray();
    }

    /// <summary>An optional label.</summary>
    public string? Name { get; }

    /// <summary>a_0: the size of the input x0.</summary>
    public long InputBytes { get; }

    /// <summary>N, the number of nodes; node N is the output.</summary>
    public int Count => _nodes.Length;

    /// <summary>Node v, 1-based.</summary>
    public Stage this[int v] => _nodes[v - 1];

    /// <summary>The nodes in order; <c>Nodes[v - 1]</c> is node v.</summary>
    public IReadOnlyList<Stage> Nodes => _nodes;

    /// <summary>The nodes that node v reads (0 is x0).</summary>
    public IReadOnlyList<int> Inputs(int v) => _inputs[v - 1];

    /// <summary>The nodes that read x_v (v = 0 is x0).</summary>
    public IReadOnlyList<int> Consumers(int v) => _consumers[v];

    /// <summary>a_v, the size of x_v (and of d_v); v = 0 is the input.</summary>
    public long OutputBytes(int v) => v == 0 ? InputBytes : _nodes[v - 1].OutputBytes;

    /// <summary>The store-all time sum(f) + sum(b).</summary>
    public double BaselineTime => _nodes.Sum(s => s.ForwardTime + s.BackwardTime);

    /// <summary>True when node k reads x_{k-1} only, for every k: the graph is a chain.</summary>
    public bool IsChain => Enumerable.Range(1, Count).All(v => _inputs[v - 1] is [var u] && u == v - 1);

    /// <summary>
    /// The graph as it runs when the nodes <paramref name="partial"/> are recorded partially: each of them with its
    /// partial record's size, backward time and temporaries (docs/model.md, "Partial records").
    /// </summary>
    public Graph WithPartialRecords(IReadOnlyCollection<int> partial)
    {
        ArgumentNullException.ThrowIfNull(partial);
        if (partial.Count == 0)
            return this;
        foreach (int v in partial.Where(v => v < 1 || v > Count))
            throw new ChainException($"stage {v} is not a stage of this model of {Count}.");
        return new Graph(InputBytes, _nodes.Select((s, i) => partial.Contains(i + 1) ? s.WithPartialRecord() : s), _inputs, Name);
    }

    /// <summary>Store-all for the graph: every node recorded in order, the loss, every backward in reverse order.</summary>
    public Schedule StoreAll() =>
        new("storeall", [.. Enumerable.Range(1, Count).Select(Op.Fe), Op.Loss, .. Enumerable.Range(1, Count).Reverse().Select(Op.B)]);

    /// <summary>The chain as a graph: node k reads x_{k-1}.</summary>
    public static Graph FromChain(Chain chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        return new Graph(chain.InputBytes, chain.Stages, Enumerable.Range(0, chain.Length).Select(k => (IReadOnlyList<int>)[k]), chain.Name);
    }

    /// <summary>The graph as a chain; throws <see cref="ChainException"/> naming a stage that branches when it is not one.</summary>
    public Chain ToChain()
    {
        for (int v = 1; v <= Count; v++)
            if (_inputs[v - 1] is not [var u] || u != v - 1)
                throw new ChainException($"{Where(v)} reads {string.Join(", ", _inputs[v - 1])}, so the graph is not a chain; plan it as a graph (GraphPlanner in Remat.CpSat).");
        return new Chain(InputBytes, _nodes, Name);
    }

    /// <summary>The inputs of node v as the graph stores them, for the simulator's loop (no enumerator per operation).</summary>
    internal int[] InputArray(int v) => _inputs[v - 1];

    /// <summary>The number of nodes that read x_v.</summary>
    internal int ReaderCount(int v) => _consumers[v].Length;

    internal string Where(int v) => $"stage {v}" + (string.IsNullOrEmpty(_nodes[v - 1].Name) ? "" : $" ('{_nodes[v - 1].Name}')");
}
