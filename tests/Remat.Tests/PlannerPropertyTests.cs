using Remat.Planners;
using Xunit.Abstractions;

namespace Remat.Tests;

public class PlannerPropertyTests(ITestOutputHelper output)
{
    private static long StoreAllPeak(Chain chain) => Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;

    [Fact]
    public void Every_planner_gives_a_valid_schedule_within_its_budget_and_the_same_one_each_time()
    {
        var rng = new Random(11);
        for (int trial = 0; trial < 300; trial++)
        {
            var chain = RandomChains.Make(rng, rng.Next(1, 41));
            long budget = RandomChains.Between(rng, Optimal.MinimumBudget(chain), StoreAllPeak(chain));
            var chen = new ChenGreedy(budget);
            IPlanner[] planners =
            [
                new StoreAll(), new Periodic(rng.Next(1, 8)), new Periodic(), new Revolve(rng.Next(1, 8)),
                new ChenGreedy(), chen, new Rotor(budget), new Optimal(budget),
            ];
            foreach (var planner in planners)
            {
                Trace trace;
                try
                {
                    trace = Simulator.Run(chain, planner.Plan(chain));
                }
                catch (InfeasibleBudgetException e) when (planner == chen)
                {
                    Assert.True(e.MinimumBytes > budget, $"trial {trial}: Chen calls {budget} infeasible but names {e.MinimumBytes}");
                    continue;
                }
                Assert.Equal(trace.Schedule.Ops, planner.Plan(chain).Ops);
                if (planner is Rotor or Optimal || planner == chen)
                    Assert.True(trace.PeakBytes <= budget, $"trial {trial}: {planner.Name} peaks at {trace.PeakBytes} over the budget {budget}");
            }
        }
    }

    [Fact]
    public void Rotor_is_never_better_than_the_exhaustive_optimum_on_short_chains()
    {
        var rng = new Random(7);
        int trials = 3000, worse = 0, infeasible = 0;
        double largestGap = 0, sumGap = 0;
        for (int trial = 0; trial < trials; trial++)
        {
            var chain = RandomChains.Make(rng, rng.Next(1, 7));
            long exactMin = ExhaustiveSearch.MinimumPeak(chain);
            long rotorMin = Rotor.MinimumBudget(chain);
            Assert.True(exactMin <= rotorMin, $"trial {trial}: exhaustive needs {exactMin}, more than rotor's {rotorMin}");
            long budget = RandomChains.Between(rng, exactMin, StoreAllPeak(chain));
            var exact = Simulator.Run(chain, new ExhaustiveSearch(budget).Plan(chain));
            Assert.True(exact.PeakBytes <= budget);
            if (budget < rotorMin)
            {
                infeasible++;
                continue;
            }
            var rotor = Simulator.Run(chain, new Rotor(budget, (int)budget).Plan(chain)); // one-byte slots: exact
            Assert.True(rotor.PeakBytes <= budget, $"trial {trial}: rotor peaks at {rotor.PeakBytes} over {budget}");
            Assert.True(rotor.Time >= exact.Time, $"trial {trial}: rotor ({rotor.Time}) beats the exhaustive optimum ({exact.Time})");
            double withoutExact = Simulator.Run(chain, new Optimal(budget, (int)budget, exactUpTo: 0).Plan(chain)).Time;
            Assert.True(withoutExact <= rotor.Time && withoutExact >= exact.Time,
                $"trial {trial}: optimal without the exact search took {withoutExact}, rotor {rotor.Time}, the exact optimum {exact.Time}");
            if (rotor.Time > exact.Time)
            {
                worse++;
                double gap = rotor.Time / exact.Time - 1;
                sumGap += gap;
                largestGap = Math.Max(largestGap, gap);
            }
        }
        output.WriteLine($"{trials} random chains of 1-6 stages: rotor slower than the exact optimum on {worse}, " +
                         $"infeasible at a budget the exact search meets on {infeasible}; largest gap {largestGap:P1}, " +
                         $"mean gap where slower {(worse == 0 ? 0 : sumGap / worse):P1}");
    }

    [Fact]
    public void Optimal_equals_an_independent_brute_force_on_chains_of_one_to_three_stages()
    {
        // The oracle shares no code with ExhaustiveSearch: a depth-first search over operation sequences, every prefix
        // checked by the simulator, bounded by the time of the best complete schedule found so far.
        var rng = new Random(23);
        for (int trial = 0; trial < 215; trial++)
        {
            var chain = RandomChains.Make(rng, trial < 200 ? rng.Next(1, 3) : 3); // three stages cost about a second each
            long budget = RandomChains.Between(rng, Optimal.MinimumBudget(chain), StoreAllPeak(chain));
            var optimal = Simulator.Run(chain, new Optimal(budget).Plan(chain));
            double oracle = BruteForceBestTime(chain, budget);
            Assert.True(optimal.PeakBytes <= budget, $"trial {trial}: optimal peaks at {optimal.PeakBytes} over {budget}");
            Assert.True(optimal.Time == oracle, $"trial {trial}: optimal takes {optimal.Time}, the brute force finds {oracle} ({chain.Length} stages, budget {budget})");
        }
    }

    /// <summary>The least time of a schedule within <paramref name="budget"/>, by brute force (a stage runs at most L + 1 times).</summary>
    private static double BruteForceBestTime(Chain chain, long budget)
    {
        int L = chain.Length;
        Op[] candidates = [.. Enumerable.Range(1, L).SelectMany(k => new[] { Op.Fe(k), Op.Fck(k), Op.Fn(k) }), Op.Loss, .. Enumerable.Range(1, L).Select(Op.B)];
        var ops = new List<Op>();
        var runs = new int[L + 1];
        double best = double.PositiveInfinity;
        void Search(double time)
        {
            if (time >= best)
                return;
            foreach (var op in candidates)
            {
                if (op.IsForward && runs[op.Stage] == L + 1)
                    continue;
                ops.Add(op);
                try
                {
                    var trace = Simulator.Run(chain, new Schedule("brute", ops), complete: false);
                    if (trace.PeakBytes <= budget)
                    {
                        if (op.Kind == OpKind.B && op.Stage == 1)
                            best = Math.Min(best, trace.Time);
                        else
                        {
                            if (op.IsForward)
                                runs[op.Stage]++;
                            Search(trace.Time);
                            if (op.IsForward)
                                runs[op.Stage]--;
                        }
                    }
                }
                catch (ScheduleException)
                {
                }
                ops.RemoveAt(ops.Count - 1);
            }
        }
        Search(0);
        return best;
    }

    [Fact]
    public void Rotor_is_the_best_of_its_family_when_every_size_is_a_whole_number_of_slots()
    {
        var rng = new Random(5);
        for (int trial = 0; trial < 300; trial++)
        {
            const long unit = 1 << 20;
            var chain = RandomChains.Make(rng, rng.Next(1, 6), unit);
            var family = Family(chain).Select(ops => Simulator.Run(chain, new Schedule("family", ops))).ToList();
            long budget = RandomChains.Between(rng, family.Min(t => t.PeakBytes) / unit, StoreAllPeak(chain) / unit) * unit;
            double best = family.Where(t => t.PeakBytes <= budget).Min(t => t.Time);
            var rotor = Simulator.Run(chain, new Rotor(budget, (int)(budget / unit)).Plan(chain));
            Assert.True(best == rotor.Time, $"trial {trial}: the family's best is {best}, rotor found {rotor.Time}");
        }
    }

    /// <summary>Every schedule of the rotor family, enumerated by brute force.</summary>
    private static IEnumerable<List<Op>> Family(Chain chain)
    {
        int L = chain.Length;
        IEnumerable<List<Op>> Advance(int s, int end) => [[Op.Fck(s), .. Enumerable.Range(s + 1, end - s).Select(Op.Fn)]];
        IEnumerable<List<Op>> Concat(params IEnumerable<List<Op>>[] parts) =>
            parts.Aggregate((IEnumerable<List<Op>>)[[]], (acc, part) => acc.SelectMany(a => part.Select(p => a.Concat(p).ToList())));
        IEnumerable<List<Op>> Interval(int s, int t)
        {
            if (s == t)
                return [[Op.Fe(s), Op.B(s)]];
            var record = Concat([[Op.Fe(s)]], Interval(s + 1, t), [[Op.B(s)]]);
            return record.Concat(Enumerable.Range(s + 1, t - s).SelectMany(j => Concat(Advance(s, j - 1), Interval(j, t), Interval(s, j - 1))));
        }
        IEnumerable<List<Op>> Top(int s)
        {
            if (s == L + 1)
                return [[Op.Loss]];
            var record = Concat([[Op.Fe(s)]], Top(s + 1), [[Op.B(s)]]);
            return record.Concat(Enumerable.Range(s + 1, L + 1 - s).SelectMany(j => Concat(Advance(s, j - 1), Top(j), Interval(s, j - 1))));
        }
        return Top(1);
    }

    [Fact]
    public void Optimal_is_never_worse_than_another_planner_at_that_planners_peak()
    {
        var rng = new Random(13);
        const long unit = 1 << 10;
        for (int trial = 0; trial < 60; trial++)
        {
            var chain = RandomChains.Make(rng, rng.Next(2, 30), unit);
            IPlanner[] others = [new StoreAll(), new Periodic(), new Periodic(rng.Next(2, 6)), new Revolve(rng.Next(1, 6)), new ChenGreedy()];
            foreach (var other in others)
            {
                var theirs = Simulator.Run(chain, other.Plan(chain));
                var ours = Simulator.Run(chain, new Optimal(theirs.PeakBytes, (int)(theirs.PeakBytes / unit)).Plan(chain));
                Assert.True(ours.Time <= theirs.Time,
                    $"trial {trial}: {other.Name} takes {theirs.Time} at peak {theirs.PeakBytes}; optimal takes {ours.Time}");
            }
        }
    }

    /// <summary>The count of docs/reliability.md.</summary>
    public const int ManyChains = 2000;

    [Fact]
    public void Thousands_of_random_chains_and_budgets_keep_every_promise()
    {
        var rng = new Random(23);
        for (int trial = 0; trial < ManyChains; trial++)
        {
            var chain = RandomChains.Make(rng, rng.Next(1, 11));
            long min = Optimal.MinimumBudget(chain), max = StoreAllPeak(chain);
            long budget = RandomChains.Between(rng, min, max);
            var optimal = Simulator.Run(chain, new Optimal(budget).Plan(chain));
            Assert.True(optimal.PeakBytes <= budget, $"trial {trial}: optimal over budget");
            Assert.Equal(optimal.Schedule.Ops, new Optimal(budget).Plan(chain).Ops);
            foreach (var other in new IPlanner[] { new StoreAll(), new Periodic(), new Revolve(rng.Next(1, 5)), new ChenGreedy() })
            {
                var theirs = Simulator.Run(chain, other.Plan(chain));
                if (theirs.PeakBytes <= budget)
                    Assert.True(optimal.Time <= theirs.Time, $"trial {trial}: {other.Name} beats optimal at budget {budget}");
            }
        }
    }

    [Fact]
    public void Below_the_smallest_budget_optimal_reports_that_budget()
    {
        var rng = new Random(17);
        foreach (int L in new[] { 4, 12 })
        {
            var chain = RandomChains.Make(rng, L);
            long min = Optimal.MinimumBudget(chain);
            Assert.True(Simulator.Run(chain, new Optimal(min).Plan(chain)).PeakBytes <= min);
            var e = Assert.Throws<InfeasibleBudgetException>(() => new Optimal(min - 1).Plan(chain));
            Assert.Equal(min, e.MinimumBytes);
            Assert.Contains("smallest budget", e.Message);
        }
    }

    [Fact]
    public void The_frontier_runs_from_the_least_peak_to_store_all_and_no_strategy_beats_it()
    {
        var rng = new Random(19);
        foreach (int L in new[] { 5, 20 })
        {
            var chain = RandomChains.Make(rng, L, unit: 1000);
            var others = Enumerable.Range(1, L).Select(n => new Periodic(n).Plan(chain))
                .Concat(Enumerable.Range(1, L).Select(s => new Revolve(s).Plan(chain))).Select(s => Simulator.Run(chain, s)).ToArray();
            // 20 slots over store-all's peak of about 100 units: the long chain's tables round its sizes.
            var frontier = ParetoFrontier.Compute(chain, slots: 20, others.Select(t => t.PeakBytes));
            Assert.True(frontier.Count >= 2, $"L={L}: a frontier of {frontier.Count} point(s)");
            Assert.Equal(chain.BaselineTime, frontier[^1].Time);
            Assert.Equal(Optimal.MinimumBudget(chain), frontier[0].PeakBytes);
            foreach (var p in frontier)
            {
                var own = Simulator.Run(chain, p.Schedule);
                Assert.True(own.PeakBytes == p.PeakBytes && own.Time == p.Time,
                    $"L={L}: the point ({p.PeakBytes} B, {p.Time}) simulates to ({own.PeakBytes} B, {own.Time})");
                double optimal = Simulator.Run(chain, new Optimal(p.PeakBytes).Plan(chain)).Time;
                // Short chains are swept budget by budget, so each point is the optimum; a long chain's points come
                // from coarser tables than Optimal's at that budget, so Optimal may only be faster.
                Assert.True(L <= Optimal.ExactUpTo ? optimal == p.Time : optimal <= p.Time,
                    $"L={L}: the frontier says {p.Time} at {p.PeakBytes} bytes, optimal planned at that budget takes {optimal}");
            }
            foreach (var t in others)
                Assert.True(ParetoFrontier.TimeAt(frontier, t.PeakBytes) is not { } best || best <= t.Time,
                    $"L={L}: {t.Schedule.Strategy} takes {t.Time} at {t.PeakBytes} bytes, below the frontier");
        }
    }
}
