using Remat.Planners;
using Xunit.Abstractions;

namespace Remat.Tests;

/// <summary>Partial records (docs/model.md): a stage kept without its declared part, which its backward recomputes.</summary>
public class PartialRecordTests(ITestOutputHelper output)
{
    /// <summary>Four stages whose partial record keeps 2 bytes of 8 for 1 more unit of backward time.</summary>
    private static Chain Transformerish(int length = 4) =>
        new(2, Enumerable.Range(1, length).Select(k => new Stage($"layer{k}", 3, 6, 2, 8, 0, 1, new PartialRecord(4, 7, 3))), "layers");

    [Fact]
    public void A_partial_record_keeps_its_size_and_its_backward_takes_its_time_and_temporaries()
    {
        var chain = Transformerish(2);
        Op[] ops = [Op.Fe(1), Op.Fe(2), Op.Loss, Op.B(2), Op.B(1)];
        var full = Simulator.Run(chain, new Schedule("full", ops));
        var partial = Simulator.Run(chain, new Schedule("partial", ops, [2]));
        Assert.Equal(full.MemoryAfter[1] - 4, partial.MemoryAfter[1]); // x̄_2 keeps 4 bytes, not 8
        Assert.Equal(full.Time + 1, partial.Time); // B(2) takes 7, not 6
        // During B(2): the memory before it plus its temporaries, 3 for the partial record against 1.
        Assert.Equal(partial.MemoryAfter[2] + 3, partial.PeakDuring[3]);
        Assert.Equal([2], new Schedule("partial", ops, [2]).PartialRecords);
        Assert.EndsWith("(partial records: 2)", new Schedule("partial", ops, [2]).ToString());
    }

    [Fact]
    public void Partial_records_read_and_write_in_chain_files_and_bad_ones_are_refused_by_field()
    {
        var chain = Transformerish();
        var back = ChainJson.Parse(ChainJson.Serialize(chain));
        Assert.Equal(chain.Stages, back.Stages);
        var e = Assert.Throws<ChainException>(() => ChainJson.Parse("""
            {"input":{"bytes":1},"stages":[{"forwardTime":1,"backwardTime":1,"outputBytes":2,"savedBytes":4,"partial":{"savedBytes":6,"backwardTime":2}}]}
            """));
        Assert.Contains("partial.savedBytes (6) must lie between outputBytes (2) and savedBytes (4)", e.Message);
        var typo = Assert.Throws<ChainException>(() => ChainJson.Parse("""
            {"input":{"bytes":1},"stages":[{"forwardTime":1,"backwardTime":1,"outputBytes":2,"savedBytes":4,"partial":{"savedByte":3,"backwardTime":2}}]}
            """));
        Assert.Contains("did you mean 'savedBytes'", typo.Message);
    }

    [Fact]
    public void Selective_recompute_records_every_stage_partially_and_adds_the_fewest_full_stages_that_fit()
    {
        var chain = Transformerish(6);
        var uniform = Simulator.Run(chain, new SelectiveRecompute().Plan(chain));
        Assert.Equal([1, 2, 3, 4, 5, 6], uniform.Schedule.PartialRecords);
        Assert.Equal(6, uniform.ForwardCount);
        long tighter = uniform.PeakBytes - 1;
        var plan = Planner.Plan(chain, new PlanOptions { Strategy = "selective", BudgetBytes = tighter });
        int full = 6 - plan.Schedule.PartialRecords.Count;
        Assert.True(full >= 1 && plan.PeakBytes <= tighter);
        var fewer = Simulator.Run(chain, new SelectiveRecompute().WithFullStages(chain, full - 1));
        Assert.True(fewer.PeakBytes > tighter, $"{full - 1} full stages would have fitted too");
    }

    [Fact]
    public void Optimal_chooses_the_record_of_each_stage_and_is_never_slower_than_one_setting_for_all()
    {
        // Random chains of 1 to 5 stages where some stages have partial records, at budgets from the least to store-all's:
        // within budget, never slower than the best uniform setting (every record full, every record partial, Megatron's
        // selective with the fewest full stages), and equal to the best of all sets of partial stages, each planned
        // exhaustively, on most.
        int trials = 300, equal = 0;
        for (int trial = 0; trial < trials; trial++)
        {
            var rng = new Random(90_000 + trial);
            var plain = RandomChains.Make(rng, 1 + trial % 5);
            var chain = new Chain(plain.InputBytes, plain.Stages.Select(s => rng.Next(3) == 0 ? s : s with
            {
                Partial = new PartialRecord(s.OutputBytes + rng.Next(0, (int)(s.SavedBytes - s.OutputBytes) + 1), s.BackwardTime + rng.Next(0, 6),
                    s.BackwardTempBytes + rng.Next(0, 3)),
            }));
            long storeAll = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;
            long budget = RandomChains.Between(rng, Optimal.MinimumBudget(chain), storeAll);
            var optimal = Simulator.Run(chain, new Optimal(budget).Plan(chain));
            Assert.True(optimal.PeakBytes <= budget, $"trial {trial}: {optimal.PeakBytes} over {budget}");
            var choosable = Enumerable.Range(1, chain.Length).Where(k => chain[k].Partial is not null).ToArray();
            double Best(IEnumerable<int> set)
            {
                var runs = chain.WithPartialRecords([.. set]);
                try
                {
                    return Simulator.Run(runs, new ExhaustiveSearch(budget).Plan(runs)).Time;
                }
                catch (InfeasibleBudgetException)
                {
                    return double.PositiveInfinity;
                }
            }
            var selective = Simulator.Run(chain, new SelectiveRecompute(budget).Plan(chain));
            double uniform = Math.Min(Math.Min(Best([]), Best(choosable)), selective.PeakBytes <= budget ? selective.Time : double.PositiveInfinity);
            Assert.True(optimal.Time <= uniform + 1e-9, $"trial {trial}: optimal {optimal.Time} against the best uniform setting {uniform}");
            double brute = Enumerable.Range(0, 1 << choosable.Length)
                .Min(mask => Best(choosable.Where((_, i) => (mask >> i & 1) != 0)));
            equal += Math.Abs(optimal.Time - brute) < 1e-9 ? 1 : 0;
        }
        output.WriteLine($"optimal equals the best over every set of partial stages on {equal} of {trials} chains");
        Assert.True(equal >= trials * 9 / 10, $"optimal equals the brute force over sets of partial stages on only {equal} of {trials}");
    }
}
