using Remat.Planners;

namespace Remat.Tests;

public class SimulatorTests
{
    private static readonly Chain Three = Chain.Uniform(3, outputBytes: 1, savedBytes: 2, forwardTime: 1, backwardTime: 2);

    private static Schedule S(params Op[] ops) => new("test", ops);

    [Fact]
    public void Store_all_peaks_when_the_loss_gradient_joins_every_record()
    {
        // x0 (1) + three records (2 each) = 7; the loss adds d_3 (1) while x_3 stays in its record: 8.
        var trace = Simulator.Run(Three, new StoreAll().Plan(Three));
        Assert.Equal(8, trace.PeakBytes);
        Assert.Equal(9, trace.Time);
        Assert.Equal(Three.BaselineTime, trace.Time);
        Assert.Equal(3, trace.ForwardCount);
        Assert.Equal([3L, 5, 7, 8, 6, 4, 1], trace.MemoryAfter);
    }

    [Fact]
    public void Transient_memory_counts_during_its_operation_only()
    {
        var chain = new Chain(1, [new Stage("a", 1, 1, 1, 1, ForwardTempBytes: 10, BackwardTempBytes: 20)]);
        var trace = Simulator.Run(chain, S(Op.Fe(1), Op.Loss, Op.B(1)));
        Assert.Equal([12L, 3, 23], trace.PeakDuring);
        Assert.Equal([2L, 3, 1], trace.MemoryAfter);
        Assert.Equal(23, trace.PeakBytes);
    }

    [Fact]
    public void Fn_frees_a_plain_input_but_never_x0()
    {
        var trace = Simulator.Run(Three, S(Op.Fn(1), Op.Fn(2), Op.Fe(3), Op.Loss, Op.B(3), Op.Fck(1), Op.Fe(2), Op.B(2), Op.Fe(1), Op.B(1)));
        Assert.Equal([2L, 2, 4, 5, 2, 3, 5, 2, 4, 1], trace.MemoryAfter);
        Assert.Equal([3, 2, 1], trace.ForwardsPerStage);
        Assert.Equal((2, 1, 0), (trace.Recomputes(1), trace.Recomputes(2), trace.Recomputes(3)));
    }

    [Fact]
    public void A_record_holds_the_plain_input_it_was_made_from_until_its_backward()
    {
        // Fe(2) makes x̄_2 from the plain x_1, so Fn(2) frees the plain x_1 but not its byte, which B(2) gives back
        // (docs/model.md; on TorchSharp the record keeps its input as the leaf of d_1).
        var trace = Simulator.Run(Three, S(Op.Fck(1), Op.Fe(2), Op.Fn(2), Op.Fe(3), Op.Loss, Op.B(3), Op.B(2), Op.Fe(1), Op.B(1)));
        Assert.Equal([2L, 4, 5, 7, 8, 5, 2, 4, 1], trace.MemoryAfter);
    }

    [Fact]
    public void Fck_keeps_its_input_as_a_checkpoint()
    {
        var trace = Simulator.Run(Three, S(Op.Fck(1), Op.Fck(2), Op.Fe(3), Op.Loss, Op.B(3), Op.Fe(2), Op.B(2), Op.Fe(1), Op.B(1)));
        Assert.Equal([2L, 3, 5, 6, 3, 5, 2, 4, 1], trace.MemoryAfter);
        Assert.Equal(6, trace.PeakBytes);
        Assert.Equal(5, trace.ForwardCount);
    }

    public static TheoryData<Op[], int, string> Malformed => new()
    {
        { [Op.Fe(1), Op.Fe(2), Op.Fe(3), Op.B(3)], 3, "before the Loss" },
        { [Op.Fe(1), Op.Fe(2), Op.Fe(3), Op.Loss, Op.B(2)], 4, "out of order" },
        { [Op.Fe(1), Op.Fe(2), Op.Fck(3), Op.Loss, Op.B(3)], 4, "record x̄_3" },
        { [Op.Fe(2)], 0, "needs x_1" },
        { [Op.Fe(1), Op.Fe(1)], 1, "second time" },
        { [Op.Fn(1), Op.Fn(1)], 1, "second time" },
        { [Op.Fe(4)], 0, "no stage 4" },
        { [Op.Fn(0)], 0, "no stage 0" },
        { [Op.Fe(1), Op.Fe(2), Op.Fe(3), Op.Loss, Op.Loss], 4, "second time" },
        { [Op.Fn(1), Op.Fn(2), Op.Loss], 2, "needs x_3" },
        { [Op.Fe(1), Op.Fe(2), Op.Fe(3), Op.Loss, Op.B(3), Op.B(2)], 6, "before B(1)" },
        { [Op.Fe(1), Op.Fe(2), Op.Fe(3)], 3, "before the Loss" },
        { [Op.Fe(1), Op.Fe(2), Op.Fe(3), Op.Loss, Op.B(3), Op.B(2), Op.B(1), Op.B(1)], 7, "after B(1)" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_schedule_is_rejected_at_its_first_bad_operation(Op[] ops, int index, string lacked)
    {
        var e = Assert.Throws<ScheduleException>(() => Simulator.Run(Three, S(ops)));
        Assert.Equal(index, e.OpIndex);
        Assert.Contains(lacked, e.Message);
    }
}
