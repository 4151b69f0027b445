using System.Globalization;
using System.Text.RegularExpressions;

namespace Remat;

/// <summary>Byte sizes with IEC (KiB, MiB, GiB, TiB) and SI (KB, MB, GB, TB) units.</summary>
public static partial class ByteSize
{
    private static readonly Dictionary<string, long> Units = new(StringComparer.OrdinalIgnoreCase)
    {
        [""] = 1, ["B"] = 1,
        ["KiB"] = 1L << 10, ["MiB"] = 1L << 20, ["GiB"] = 1L << 30, ["TiB"] = 1L << 40,
        ["KB"] = 1000L, ["MB"] = 1000_000L, ["GB"] = 1000_000_000L, ["TB"] = 1000_000_000_000L,
    };

    [GeneratedRegex(@"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")]
    private static partial Regex Pattern();

    /// <summary>
    /// Parses "512MiB", "1.5GB", "4096" or "4096B" into bytes, rounded to the nearest byte;
    /// returns false with a reason for anything else.
    /// </summary>
    public static bool TryParse(string text, out long bytes, out string error)
    {
        bytes = 0;
        var m = Pattern().Match(text);
        if (!m.Success || !Units.TryGetValue(m.Groups[2].Value, out long factor) ||
            !decimal.TryParse(m.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal value))
        {
            error = $"'{text}' is not a size; write a number of bytes with an optional unit: B, KiB, MiB, GiB, TiB, KB, MB, GB, TB (for example 512MiB).";
            return false;
        }
        decimal result = value <= long.MaxValue ? Math.Round(value * factor, MidpointRounding.AwayFromZero) : decimal.MaxValue;
        if (result > long.MaxValue)
        {
            error = $"'{text}' is larger than the largest size, {long.MaxValue} bytes.";
            return false;
        }
        bytes = (long)result;
        error = "";
        return true;
    }

    /// <summary>A short human form with IEC units: "1.5 GiB", "512 B".</summary>
    public static string Format(long bytes)
    {
        string[] names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double v = bytes;
        int i = 0;
        while (Math.Abs(v) >= 1024 && i < names.Length - 1)
        {
            v /= 1024;
            i++;
        }
        return i == 0 ? $"{bytes} B" : v.ToString("0.##", CultureInfo.InvariantCulture) + " " + names[i];
    }
}
