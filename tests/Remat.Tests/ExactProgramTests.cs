using Remat.Planners;
using Xunit.Abstractions;

namespace Remat.Tests;

/// <summary>Remat's dynamic program (<see cref="ExactTable"/>) between rotor's program and the exhaustive optimum.</summary>
public class ExactProgramTests(ITestOutputHelper output)
{
    private static long StoreAllPeak(Chain chain) => Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;

    /// <summary>The program's schedule for a budget in exact bytes (one-byte slots), or null where it finds none.</summary>
    private static Trace? Program(Chain chain, long budget)
    {
        var table = new ExactTable(chain, 1, (int)budget);
        return float.IsPositiveInfinity(table.Time((int)budget))
            ? null
            : Simulator.Run(chain, ExactFamily.Emit("exact", chain.Length, table, budget));
    }

    [Fact]
    public void The_program_is_never_worse_than_rotor_nor_better_than_the_exhaustive_optimum()
    {
        var rng = new Random(31);
        int trials = 2000, equal = 0, rotorSlower = 0, rotorNone = 0, peakEqual = 0;
        for (int trial = 0; trial < trials; trial++)
        {
            var chain = RandomChains.Make(rng, 1 + trial % 7, temps: trial % 3 != 0); // sizes of 0 to 10 bytes: no common divisor
            long exactMin = ExhaustiveSearch.MinimumPeak(chain), programMin = ExactMinimumPeak.For(chain).PeakBytes;
            long rotorMin = new RotorMinimumPeak(chain).PeakBytes;
            Assert.True(exactMin <= programMin && programMin <= rotorMin,
                $"trial {trial}: least peaks: exhaustive {exactMin}, the program {programMin}, rotor {rotorMin}; expected them in that order");
            if (programMin == exactMin)
                peakEqual++;
            long budget = RandomChains.Between(rng, programMin, StoreAllPeak(chain));
            var exact = Simulator.Run(chain, new ExhaustiveSearch(budget).Plan(chain));
            var program = Program(chain, budget);
            Assert.True(program is not null, $"trial {trial}: the program finds no schedule within {budget} bytes, above its own least peak {programMin}");
            Assert.True(program.PeakBytes <= budget, $"trial {trial}: the program's schedule peaks at {program.PeakBytes}, over {budget}");
            Assert.True(program.Time >= exact.Time, $"trial {trial}: the program ({program.Time}) beats the exhaustive optimum ({exact.Time})");
            if (program.Time == exact.Time)
                equal++;
            if (budget < rotorMin)
            {
                rotorNone++;
                continue;
            }
            var rotor = Simulator.Run(chain, new Rotor(budget, (int)budget).Plan(chain));
            Assert.True(program.Time <= rotor.Time, $"trial {trial}: rotor ({rotor.Time}) beats the program ({program.Time}) at {budget} bytes");
            if (rotor.Time > program.Time)
                rotorSlower++;
        }
        output.WriteLine($"{trials} chains of 1-7 stages: the program equals the exhaustive optimum on {equal} and its least peak on {peakEqual}; " +
                         $"rotor is slower on {rotorSlower} and has no schedule on {rotorNone}");
    }

    [Fact]
    public void Where_the_program_needs_less_memory_than_rotor_it_records_a_stage_and_drops_its_input()
    {
        // Fe(k) Fn(k): the record then serves as the checkpoint of x_k, and x_{k-1} goes (docs/planners.md).
        var rng = new Random(3);
        int found = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            var chain = RandomChains.Make(rng, rng.Next(3, 9));
            var least = ExactMinimumPeak.For(chain);
            if (least.PeakBytes >= new RotorMinimumPeak(chain).PeakBytes)
                continue;
            found++;
            var ops = ExactFamily.Emit("exact", chain.Length, least, 0).Ops;
            Assert.Equal(least.PeakBytes, Simulator.Run(chain, new Schedule("exact", ops)).PeakBytes);
            Assert.True(Enumerable.Range(1, ops.Count - 1).Any(i => ops[i - 1] == Op.Fe(ops[i].Stage) && ops[i] == Op.Fn(ops[i].Stage)),
                $"trial {trial}: the program's least peak {least.PeakBytes} is below rotor's without Fe(k) Fn(k): {string.Join(" ", ops)}");
        }
        Assert.True(found > 0, "no random chain of 3-8 stages where the program needs less memory than rotor");
    }
}
