using System.Globalization;
using System.Reflection;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// One switch for an existing model, in the spirit of Hugging Face's <c>gradient_checkpointing_enable()</c> and FSDP's
/// <c>apply_activation_checkpointing(model, check_fn)</c>: the modules a predicate picks are replaced, in place, by a
/// <see cref="CheckpointWrapper"/> that runs them under function checkpointing.
/// TorchSharp calls a child through its parent's field, so only a child held in a list can be replaced in place: the
/// elements of every <c>ModuleList&lt;Module&lt;Tensor, Tensor&gt;&gt;</c> in the model (the usual home of a
/// transformer's blocks), and of every <c>ModuleList&lt;Module&lt;Tensor, Tensor, Tensor&gt;&gt;</c> (blocks that take
/// an attention mask or another side input, wrapped by <see cref="CheckpointWrapper{TSide}"/>). A module the predicate
/// picks anywhere else is refused with its name, never skipped in silence.
/// </summary>
public static class Checkpointing
{
    /// <summary>
    /// Wraps every element of the model's module lists for which <paramref name="select"/> (given the element's full name,
    /// as in <c>named_modules()</c>, and the element) is true, and among them every <paramref name="everyNth"/>-th in
    /// model order (the first, the (n+1)-th, ...), as Hugging Face's <c>every_n_layers</c>. Returns how many were wrapped.
    /// Elements already wrapped are left as they are, so applying it twice changes nothing.
    /// </summary>
    public static int Apply(nn.Module model, Func<string, nn.Module, bool> select, int everyNth = 1, bool preserveRngState = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(select);
        ArgumentOutOfRangeException.ThrowIfLessThan(everyNth, 1);
        var modules = model.named_modules().ToList();
        var lists = modules.Where(p => p.Item2 is ModuleList<nn.Module<Tensor, Tensor>> or ModuleList<nn.Module<Tensor, Tensor, Tensor>>)
            .ToDictionary(p => p.Item1, p => p.Item2);
        // A module inside a wrapper, or inside one picked here, runs under that checkpoint already.
        var covered = new HashSet<nn.Module>(ReferenceEqualityComparer.Instance);
        void Cover(nn.Module outer)
        {
            foreach (var (_, inner) in outer.named_modules())
                covered.Add(inner);
        }
        foreach (var (_, m) in modules.Where(p => p.Item2 is CheckpointWrapper or CheckpointWrapper<Tensor>))
            Cover(m);
        var picked = new List<(nn.Module List, int Index)>();
        var refused = new List<string>();
        foreach (var (name, m) in modules)
        {
            if (name.Length == 0 || m is CheckpointWrapper or CheckpointWrapper<Tensor> || covered.Contains(m) || !select(name, m))
                continue;
            int dot = name.LastIndexOf('.');
            if (dot > 0 && lists.TryGetValue(name[..dot], out var list) && int.TryParse(name[(dot + 1)..], out int index)
                && ReferenceEquals(Element(list, index), m))
            {
                picked.Add((list, index));
                Cover(m);
            }
            else
                refused.Add(name);
        }
        if (refused.Count > 0)
            throw new RematException($"cannot checkpoint {string.Join(", ", refused.Select(n => $"'{n}'"))} in place: TorchSharp calls " +
                                     "such a module through its parent's field. Hold the modules to checkpoint in a ModuleList<Module<Tensor, Tensor>> " +
                                     "(or ModuleList<Module<Tensor, Tensor, Tensor>> for blocks with a mask), wrap them yourself (new CheckpointWrapper(m)), " +
                                     "or call Checkpoint.Run in the parent's forward.");
        int wrapped = 0;
        for (int i = 0; i < picked.Count; i += everyNth, wrapped++)
        {
            var (list, index) = picked[i];
            nn.Module wrapper = list switch
            {
                ModuleList<nn.Module<Tensor, Tensor>> one => one[index] = new CheckpointWrapper(one[index], preserveRngState),
                ModuleList<nn.Module<Tensor, Tensor, Tensor>> two => two[index] = new CheckpointWrapper<Tensor>(two[index], preserveRngState),
                _ => throw new InvalidOperationException("not a list of blocks"),
            };
            Registry(list)[index.ToString(CultureInfo.InvariantCulture)] = wrapper;
        }
        return wrapped;
    }

    /// <summary>Element <paramref name="index"/> of a list of blocks, or null where it has none.</summary>
    private static nn.Module? Element(nn.Module list, int index) => list switch
    {
        ModuleList<nn.Module<Tensor, Tensor>> one when index < one.Count => one[index],
        ModuleList<nn.Module<Tensor, Tensor, Tensor>> two when index < two.Count => two[index],
        _ => null,
    };

    /// <summary>
    /// The registry behind a module's <c>named_modules()</c>, <c>train()</c> and <c>state_dict()</c>. A module list's indexer
    /// changes the list its owner iterates but not this registry, and TorchSharp 0.107 has no public way to register a
    /// name again, so the entry is replaced here too (a test checks that the wrapper is what <c>named_modules()</c> lists).
    /// </summary>
    private static OrderedDict<string, nn.Module> Registry(nn.Module module) =>
        (OrderedDict<string, nn.Module>)(typeof(nn.Module).GetField("_internal_submodules", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(module)
            ?? throw new InvalidOperationException("this TorchSharp version keeps no _internal_submodules registry; Checkpointing.Apply needs updating."));

    /// <summary>Wraps every module list element of type <typeparamref name="T"/> (a transformer block class, say).</summary>
    public static int Apply<T>(nn.Module model, int everyNth = 1, bool preserveRngState = true) where T : nn.Module =>
        Apply(model, (_, m) => m is T, everyNth, preserveRngState);
}
