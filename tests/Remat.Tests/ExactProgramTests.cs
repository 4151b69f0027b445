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
    public void The_search_equals_the_exhaustive_optimum_on_5000_random_chains_and_is_never_slower_than_rotor()
    {
        // docs/planners.md "Remat's program": chains of 1-8 stages, sizes of 0 to 10 bytes (no common divisor), with and
        // without temporaries, at a random budget between the least peak and store-all's. Chains run on both cores.
        const int trials = 5000;
        var misses = new System.Collections.Concurrent.ConcurrentBag<string>();
        var peakMisses = new System.Collections.Concurrent.ConcurrentBag<string>();
        int rotorSlower = 0, rotorNone = 0;
        Parallel.For(0, trials, trial =>
        {
            var rng = new Random(47_000 + trial);
            var chain = RandomChains.Make(rng, 1 + trial % 8, temps: trial % 3 != 0);
            var search = new ExactSearch(chain, 1);
            long exactMin = ExhaustiveSearch.MinimumPeak(chain);
            if (search.LeastPeak != exactMin)
                peakMisses.Add($"trial {trial}: the search's least peak is {search.LeastPeak}, the exhaustive one {exactMin}");
            long budget = RandomChains.Between(rng, Math.Max(exactMin, search.LeastPeak), StoreAllPeak(chain));
            var exact = Simulator.Run(chain, new ExhaustiveSearch(budget).Plan(chain));
            float time = search.Time(budget);
            if (float.IsPositiveInfinity(time))
            {
                misses.Add($"trial {trial}: the search finds nothing within {budget} bytes");
                return;
            }
            var found = Simulator.Run(chain, ExactFamily.Emit("exact", chain.Length, search, budget));
            if (found.PeakBytes > budget)
                misses.Add($"trial {trial}: the search's schedule peaks at {found.PeakBytes}, over {budget}");
            else if (Math.Abs(found.Time - time) > 1e-3 * found.Time)
                misses.Add($"trial {trial}: the search says {time}, its schedule takes {found.Time}");
            else if (found.Time != exact.Time)
                misses.Add($"trial {trial}: {found.Time} against the exhaustive {exact.Time} at {budget} bytes: " +
                           $"exhaustive {string.Join(" ", exact.Schedule.Ops)}; search {string.Join(" ", found.Schedule.Ops)}");
            if (budget < new RotorMinimumPeak(chain).PeakBytes)
            {
                Interlocked.Increment(ref rotorNone);
                return;
            }
            var rotor = Simulator.Run(chain, new Rotor(budget, (int)budget).Plan(chain));
            if (rotor.Time < found.Time)
                misses.Add($"trial {trial}: rotor ({rotor.Time}) beats the search ({found.Time}) at {budget} bytes");
            else if (rotor.Time > found.Time)
                Interlocked.Increment(ref rotorSlower);
        });
        output.WriteLine($"{trials} chains of 1-8 stages: the search equals the exhaustive optimum on {trials - misses.Count} and its least peak on " +
                         $"{trials - peakMisses.Count}; rotor is slower on {rotorSlower} and has no schedule on {rotorNone}");
        Assert.True(misses.IsEmpty, string.Join("\n", misses.Take(5)));
        // The one known miss of the least peak defers a backward past the next recomputation (docs/planners.md).
        Assert.True(peakMisses.Count <= 1, string.Join("\n", peakMisses.Take(5)));
    }

    [Fact]
    public void A_schedule_that_frees_the_input_of_a_live_record_is_no_cheaper_and_optimal_stays_the_exhaustive_optimum()
    {
        // Issue 30's witness: at 20 bytes an older model allowed 123 by Fe(4) Fn(4), Fn(4) freeing x_3 while x̄_4 held it.
        // A record holds its input until its backward (docs/model.md, measured on TorchSharp), so that schedule peaks
        // over the budget, and 128 is the optimum of the model Remat runs.
        var chain = ChainJson.Parse("""
            {"input":{"bytes":1},"stages":[{"forwardTime":9,"backwardTime":12,"outputBytes":1,"savedBytes":6},{"forwardTime":1,"backwardTime":13,"outputBytes":2,"savedBytes":7},{"forwardTime":5,"backwardTime":4,"outputBytes":4,"savedBytes":8},{"forwardTime":8,"backwardTime":8,"outputBytes":5,"savedBytes":5},{"forwardTime":5,"backwardTime":4,"outputBytes":5,"savedBytes":9},{"forwardTime":4,"backwardTime":4,"outputBytes":2,"savedBytes":4},{"forwardTime":3,"backwardTime":1,"outputBytes":1,"savedBytes":5}]}
            """);
        // The issue writes Fn for both forwards without recording, starred where it frees its input: Fck and Fn here.
        Op[] witness = [Op.Fck(1), Op.Fn(2), Op.Fn(3), Op.Fe(4), Op.Fn(4), Op.Fn(5), Op.Fck(6), Op.Fe(7), Op.Loss, Op.B(7), Op.Fe(6), Op.B(6),
            Op.Fe(5), Op.B(5), Op.Fck(1), Op.Fck(2), Op.B(4), Op.Fe(3), Op.B(3), Op.Fe(2), Op.Fe(1), Op.B(2), Op.B(1)];
        var trace = Simulator.Run(chain, new Schedule("witness", witness));
        Assert.Equal(123, trace.Time);
        output.WriteLine($"the witness: time {trace.Time}, peak {trace.PeakBytes} bytes");
        Assert.True(trace.PeakBytes > 20, $"the witness peaks at {trace.PeakBytes} bytes under the record rule");
        var optimal = Simulator.Run(chain, new Optimal(20).Plan(chain));
        var exhaustive = Simulator.Run(chain, new ExhaustiveSearch(20).Plan(chain));
        Assert.Equal(exhaustive.Time, optimal.Time);
        Assert.Equal(128, optimal.Time);
    }

    [Fact]
    public void The_table_lies_between_the_search_and_rotor()
    {
        // The table's family is the search's without consuming parts, and contains rotor's.
        var rng = new Random(31);
        for (int trial = 0; trial < 2000; trial++)
        {
            var chain = RandomChains.Make(rng, 1 + trial % 12, temps: trial % 3 != 0);
            long tableMin = ExactMinimumPeak.For(chain).PeakBytes, rotorMin = new RotorMinimumPeak(chain).PeakBytes;
            var search = new ExactSearch(chain, 1);
            Assert.True(search.LeastPeak <= tableMin && tableMin <= rotorMin,
                $"trial {trial}: least peaks: search {search.LeastPeak}, table {tableMin}, rotor {rotorMin}; expected them in that order");
            long budget = RandomChains.Between(rng, tableMin, StoreAllPeak(chain));
            var table = Program(chain, budget);
            Assert.True(table is not null, $"trial {trial}: the table finds no schedule within {budget} bytes, above its own least peak {tableMin}");
            Assert.True(table.PeakBytes <= budget, $"trial {trial}: the table's schedule peaks at {table.PeakBytes}, over {budget}");
            Assert.True(table.Time >= search.Time(budget), $"trial {trial}: the table ({table.Time}) beats the search ({search.Time(budget)})");
            if (budget >= rotorMin)
            {
                var rotor = Simulator.Run(chain, new Rotor(budget, (int)budget).Plan(chain));
                Assert.True(table.Time <= rotor.Time, $"trial {trial}: rotor ({rotor.Time}) beats the table ({table.Time}) at {budget} bytes");
            }
        }
    }

    [Fact]
    public void The_table_holds_the_recurrence_at_every_memory_whatever_the_order_it_is_computed_in()
    {
        // The table is computed by groups of 16 starts on all cores, a block of memories at a time, with checkpoints
        // skipped where they cannot win (docs/planners.md). Whatever the order, every cell must be the recurrence over
        // the family's candidates, evaluated here directly and summed in the same order (cost, first part, second).
        for (int trial = 184; trial < 188; trial++) // chains that caught a wrong skip while developing
        {
            var rng = new Random(trial);
            int length = rng.Next(1, 40);
            var chain = Chain.Heterogeneous(length, trial);
            const int slots = 200;
            long slotBytes = Optimal.SlotBytes(chain, StoreAllPeak(chain) / rng.Next(1, 5), slots);
            var table = new ExactTable(chain, slotBytes, slots);
            var reference = new Recurrence(new ExactFamily.Sizes(chain, slotBytes), chain.Length);
            for (int m = 0; m <= slots; m++)
            {
                float expected = reference.Time(ExactFamily.Holding.Plain, 1, chain.Length, true, m);
                Assert.True(table.Time(m) == expected,
                    $"trial {trial} ({chain.Length} stages, {slots} slots): the table holds {table.Time(m)} at {m} slots, the recurrence {expected}");
            }
        }
    }

    [Fact]
    public void An_interval_holding_its_input_in_a_record_takes_the_plain_time_with_the_input_given_back()
    {
        // The table and the least-peak program keep one row per interval (docs/planners.md "One row per interval"): in a
        // record, s..t at m takes the time of s..t holding x_{s-1} plain at m + a_{s-1}, where m >= a_{s-1}, and
        // nothing fits below. Checked against the recurrence of both holdings, evaluated directly, at every memory.
        var rng = new Random(83);
        for (int trial = 0; trial < 300; trial++)
        {
            var chain = RandomChains.Make(rng, 1 + trial % 7, temps: trial % 3 != 0);
            var sizes = new ExactFamily.Sizes(chain, 1);
            var reference = new Recurrence(sizes, chain.Length);
            int L = chain.Length;
            for (int s = 1; s <= L + 1; s++)
                for (int t = Math.Min(s, L); t <= L; t++)
                    foreach (bool top in new[] { false, true })
                    {
                        if (top ? t != L : s > t)
                            continue;
                        long input = sizes.Input(s);
                        for (long m = 0; m <= StoreAllPeak(chain); m++)
                        {
                            float record = reference.Time(ExactFamily.Holding.Record, s, t, top, m);
                            float plain = m < input ? float.PositiveInfinity : reference.Time(ExactFamily.Holding.Plain, s, t, top, m + input);
                            Assert.True(record == plain,
                                $"trial {trial} ({L} stages), {s}..{t}{(top ? " with the loss" : "")} at {m} bytes: {record} in a record, " +
                                $"{plain} plain with the input's {input} bytes given back");
                        }
                    }
        }
    }

    [Fact]
    public void The_schedule_rebuilt_from_the_table_takes_the_tables_time_within_budget_across_several_groups()
    {
        // Budgets near the least peak, across several groups of starts.
        for (int trial = 0; trial < 12; trial++)
        {
            var rng = new Random(500 + trial);
            var chain = Chain.Heterogeneous(rng.Next(17, 70), trial);
            const int slots = 300;
            long least = ExactMinimumPeak.For(chain).PeakBytes;
            long budget = least + (StoreAllPeak(chain) - least) / rng.Next(5, 40);
            long slotBytes = Optimal.SlotBytes(chain, budget, slots);
            var table = new ExactTable(chain, slotBytes, slots);
            float time = table.Time(slots);
            if (float.IsPositiveInfinity(time))
                continue;
            var trace = Simulator.Run(chain, ExactFamily.Emit("exact", chain.Length, table, slots));
            Assert.True(trace.PeakBytes <= budget, $"trial {trial} ({chain.Length} stages): the schedule peaks at {trace.PeakBytes}, over {budget}");
            Assert.True(Math.Abs(trace.Time - time) <= 1e-4 * time,
                $"trial {trial} ({chain.Length} stages): the table says {time}, its schedule takes {trace.Time}");
        }
    }

    /// <summary>The table's recurrence, memoized top down over its candidates without consuming parts.</summary>
    private sealed class Recurrence(ExactFamily.Sizes sizes, int length)
    {
        private readonly Dictionary<(ExactFamily.Holding, int, int, bool, long), float> _memo = [];

        public float Time(ExactFamily.Holding holding, int s, int t, bool top, long memory)
        {
            if (memory < 0)
                return float.PositiveInfinity;
            if (top && s == length + 1)
                return memory >= sizes.LossNeed(holding) ? 0 : float.PositiveInfinity;
            var key = (holding, s, t, top, memory);
            if (_memo.TryGetValue(key, out float known))
                return known;
            float best = float.PositiveInfinity;
            foreach (var c in sizes.Candidates(holding, s, s, t, top))
            {
                if (memory < c.Need)
                    continue;
                float time = c.Cost;
                if (c.First is { } first)
                    time += Time(first.Holding, first.S, first.T, first.Top, memory - first.Shift);
                if (c.Second is { } second)
                    time += Time(second.Holding, second.S, second.T, second.Top, memory - second.Shift);
                best = Math.Min(best, time);
            }
            return _memo[key] = best;
        }
    }
}
