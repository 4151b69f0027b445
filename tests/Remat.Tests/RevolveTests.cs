using Remat.Planners;

namespace Remat.Tests;

public class RevolveTests
{
    [Theory]
    [InlineData(10, 3, 25)]
    [InlineData(20, 3, 65)]
    [InlineData(100, 5, 416)]
    [InlineData(100, 10, 322)]
    public void The_closed_form_gives_the_examples_of_the_spec(int length, int snapshots, long forwards) =>
        Assert.Equal(forwards, Revolve.ForwardCount(length, snapshots));

    [Fact]
    public void Every_schedule_up_to_200_stages_is_valid_and_reaches_the_binomial_optimum()
    {
        for (int L = 1; L <= 200; L++)
        {
            var chain = Chain.Uniform(L, 1, 1);
            for (int s = 1; s <= L; s++)
            {
                var trace = Simulator.Run(chain, new Revolve(s).Plan(chain));
                Assert.True(Revolve.ForwardCount(L, s) == trace.ForwardCount,
                    $"L={L}, s={s}: {trace.ForwardCount} forwards, the closed form says {Revolve.ForwardCount(L, s)}");
                // s snapshots, the value being advanced and its successor, one record, one gradient.
                Assert.True(trace.PeakBytes <= s + 3, $"L={L}, s={s}: peak {trace.PeakBytes} holds more than {s} snapshots");
            }
        }
    }

    [Theory]
    [InlineData(250)]
    [InlineData(500)]
    [InlineData(1000)]
    public void Longer_chains_reach_the_binomial_optimum_for_every_snapshot_count(int L)
    {
        var chain = Chain.Uniform(L, 1, 1);
        for (int s = 1; s <= L; s++)
            Assert.True(Revolve.ForwardCount(L, s) == new Revolve(s).Plan(chain).ForwardCount, $"L={L}, s={s}");
    }

    [Fact]
    public void More_snapshots_than_stages_act_as_one_per_stage()
    {
        var chain = Chain.Uniform(7, 1, 1);
        Assert.Equal(new Revolve(7).Plan(chain).Ops, new Revolve(50).Plan(chain).Ops);
        Assert.Equal(2 * 7 - 1, new Revolve(50).Plan(chain).ForwardCount);
    }

    [Fact]
    public void Zero_snapshots_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Revolve(0));
}
