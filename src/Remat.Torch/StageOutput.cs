using static TorchSharp.torch;

namespace Remat.Torch;

/// <summary>
/// A stage's output as a handle of its own. A stage may return the very tensor it was given (a pass-through, an
/// optional part switched off); the runtime frees a stage's input once the stage has run, and disposing that handle
/// would dispose the output too. Such an output is replaced by an alias: the same storage, another handle.
/// </summary>
internal static class StageOutput
{
    /// <summary><paramref name="output"/>, or an alias of it when it is one of <paramref name="inputs"/>.</summary>
    public static Tensor Own(Tensor output, IReadOnlyList<Tensor> inputs) =>
        inputs.Any(x => ReferenceEquals(x, output)) ? output.alias() : output;
}
