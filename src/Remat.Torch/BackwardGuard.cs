using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// The bridge between Remat's custom backward functions and TorchSharp's native autograd engine, which calls them
/// through a native callback. Two things cannot be done naively there:
/// <list type="bullet">
/// <item>A managed exception cannot cross the callback: it ends the process. So a failure inside a backward is caught,
/// recorded, and turned into a gradient on the <c>meta</c> device for the function's sentinel input. libtorch's engine
/// validates every gradient a node returns and refuses that one ("returned an invalid gradient ... expected device cpu
/// but got meta"), so the caller's <c>backward()</c> throws, catchably, before any other gradient flows from the failed
/// node. <see cref="Checkpoint.Backward"/> rethrows the recorded cause as a <see cref="RematException"/>.</item>
/// <item>The gradients a backward returns must outlive the callback (libtorch copies them once it returns), but a
/// managed handle kept after that holds its memory until the garbage collector runs. So the handles are kept here
/// and disposed at the next Remat call on the same thread, once libtorch holds its own references.</item>
/// </list>
/// </summary>
internal static class BackwardGuard
{
    private static readonly Lock Gate = new();
    private static readonly List<Exception> Failures = [];

    // Per thread: libtorch runs a device's nodes one after the other on that device's thread, so a thread's next
    // callback comes after libtorch has copied what its previous one returned; another thread's may not.
    [ThreadStatic]
    private static List<Tensor>? _returned;

    /// <summary>
    /// Runs <paramref name="backward"/>, the body of a custom backward whose last input (of <paramref name="count"/>)
    /// is <paramref name="sentinel"/>. When the graph was freed by an earlier backward, it gives no gradient, and libtorch
    /// raises at the sentinel's node. A failure is recorded and reported through <see cref="Checkpoint.Warning"/>, and
    /// the backward then returns the refused gradient described above.
    /// </summary>
    public static List<Tensor> Run(string what, int count, Sentinel sentinel, Func<List<Tensor>> backward)
    {
        ReleaseReturned();
        try
        {
            if (sentinel.GraphFreed())
                return [.. new Tensor[count]];
            var gradients = backward();
            (_returned ??= []).AddRange(gradients.Where(g => g is not null));
            return gradients;
        }
        catch (Exception e)
        {
            lock (Gate)
                Failures.Add(e);
            Checkpoint.Warn($"{what} failed in the backward pass: {e.Message} The backward() that ran it throws; " +
                            "Checkpoint.Backward(loss) throws this message instead.");
            var refused = new Tensor[count];
            refused[count - 1] = empty(0, device: META);
            return [.. refused];
        }
    }

    /// <summary>Disposes the handles of the gradients this thread's earlier backward calls returned: libtorch has copied them.</summary>
    public static void ReleaseReturned()
    {
        if (_returned is not { Count: > 0 } done)
            return;
        foreach (var t in done)
            t.Dispose();
        done.Clear();
    }

    /// <summary>
    /// Runs a backward pass by <paramref name="run"/> and, when a Remat backward failed inside it, throws that failure
    /// as a <see cref="RematException"/> whatever the engine said; failures recorded earlier are dropped first.
    /// </summary>
    public static void Surface(Action run)
    {
        lock (Gate)
            Failures.Clear();
        ExternalException? engine = null;
        try
        {
            run();
        }
        catch (ExternalException e)
        {
            engine = e;
        }
        finally
        {
            ReleaseReturned();
        }
        Exception[] failures;
        lock (Gate)
        {
            failures = [.. Failures];
            Failures.Clear();
        }
        if (failures.Length > 0)
            throw new RematException($"the backward pass failed inside a checkpoint: {failures[0].Message}", failures[0]);
        if (engine is not null)
            ExceptionDispatchInfo.Throw(engine);
    }
}
