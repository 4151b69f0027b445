using System.Reflection;
using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The modules a checkpointed function can run, found through its delegate: the module whose method it is
/// (<c>block.forward</c>), or the modules a lambda captured (its closure's fields: captured variables, <c>this</c>,
/// enclosing closures, captured delegates, and arrays and lists of modules). Only the compiler's closures are searched,
/// not other objects, and no other sequence is enumerated (a LINQ query would build its modules anew). A function
/// checkpoint freezes the running statistics of these modules' normalisation layers during its recomputation
/// (<see cref="RunningStatistics"/>); freezing a layer the function does not run changes nothing, so finding too many
/// is harmless, and a layer it misses is updated again, as in PyTorch.
/// </summary>
internal static class ReachedModules
{
    /// <summary>The modules <paramref name="function"/> reaches, searched when first enumerated (each time).</summary>
    public static IEnumerable<nn.Module> Of(Delegate function)
    {
        var found = new List<nn.Module>();
        Visit(function, found, new HashSet<object>(ReferenceEqualityComparer.Instance));
        foreach (var module in found)
            yield return module;
    }

    /// <summary>The element type of an array or a list (not of other sequences, which may compute their items anew).</summary>
    private static Type? ElementType(Type type) => type.IsArray
        ? type.GetElementType()
        : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IList<>))?.GetGenericArguments()[0];

    private static void Visit(object? value, List<nn.Module> found, HashSet<object> seen)
    {
        if (value is null || !seen.Add(value))
            return;
        switch (value)
        {
            case nn.Module module:
                found.Add(module);
                break;
            case Delegate d:
                foreach (var single in d.GetInvocationList())
                    Visit(single.Target, found, seen);
                break;
            case System.Collections.IList list
                when ElementType(list.GetType()) is { } element && typeof(nn.Module).IsAssignableFrom(element):
                foreach (var item in list)
                    Visit(item, found, seen);
                break;
            default:
                if (value.GetType().IsDefined(typeof(CompilerGeneratedAttribute), inherit: false))
                    foreach (var field in value.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                        Visit(field.GetValue(value), found, seen);
                break;
        }
    }
}
