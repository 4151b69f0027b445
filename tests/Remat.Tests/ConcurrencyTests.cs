using Remat.Planners;

namespace Remat.Tests;

public class ConcurrencyTests
{
    [Fact]
    public void Planners_and_the_simulator_give_the_same_answers_from_many_threads_at_once()
    {
        var chains = Enumerable.Range(0, 8).Select(i => RandomChains.Make(new Random(i), 4 + 3 * i)).ToArray();
        Func<Chain, Schedule>[] planners =
        [
            c => new Optimal(Optimal.MinimumBudget(c) * 3 / 2).Plan(c),
            c => new Rotor(Optimal.MinimumBudget(c) * 2).Plan(c),
            c => new ChenGreedy().Plan(c),
            c => new Revolve(2).Plan(c),
            c => new Periodic().Plan(c),
        ];
        var expected = chains.SelectMany(c => planners.Select(p => Simulator.Run(c, p(c)))).Select(t => (t.PeakBytes, t.Time, string.Join(" ", t.Schedule.Ops))).ToArray();
        var got = new (long, double, string)[64][];
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            got[i] = chains.SelectMany(c => planners.Select(p => Simulator.Run(c, p(c)))).Select(t => (t.PeakBytes, t.Time, string.Join(" ", t.Schedule.Ops))).ToArray());
        foreach (var run in got)
            Assert.Equal(expected, run);
    }
}
