using Remat.Planners;
using static TorchSharp.torch;

namespace Remat.Torch.Tests;

public class ScheduleExecutorTests
{
    private static readonly int[] Widths = [32, 64, 16, 48, 48, 8, 40, 24, 32];

    public static TheoryData<string> Strategies => ["storeall", "periodic", "revolve1", "revolve3", "chen", "optimal", "selective"];

    private static IPlanner Planner(string name, Chain chain, Random rng)
    {
        long max = Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes;
        long min = Optimal.MinimumBudget(chain);
        long budget = RandomBudget(rng, min, max);
        return name switch
        {
            "storeall" => new StoreAll(),
            "periodic" => new Periodic(),
            "revolve1" => new Revolve(1),
            "revolve3" => new Revolve(3),
            "chen" => new ChenGreedy(),
            "optimal" => new Optimal(budget),
            _ => new SelectiveRecompute(budget),
        };
    }

    private static long RandomBudget(Random rng, long min, long max) => min + (long)(rng.NextDouble() * (max - min));

    [Theory]
    [MemberData(nameof(Strategies))]
    public void Every_planner_gives_the_plain_gradients_and_runs_each_stage_as_often_as_its_schedule_says(string strategy)
    {
        var stages = Models.Mlp(Widths);
        random.manual_seed(3);
        var input = randn(16, Widths[0]);
        float plainLoss = Models.PlainStep(stages, input);
        var plain = Models.Gradients(stages);

        var rng = new Random(strategy.GetHashCode() & 0xffff);
        for (int trial = 0; trial < 3; trial++)
        {
            // A heterogeneous chain of the right length: the executor must be exact whatever the plan.
            var chain = new Chain(1, Enumerable.Range(1, stages.Length).Select(k => new Stage($"s{k}", 1, 2, rng.Next(1, 5), rng.Next(5, 9))));
            var schedule = Planner(strategy, chain, rng).Plan(chain);
            var trace = Simulator.Run(chain, schedule);
            Models.ZeroGrad(stages);
            foreach (var s in stages)
                s.Calls = 0;
            float loss = new ScheduleExecutor(stages).Step(schedule, input, Models.Loss);
            Assert.Equal(plainLoss, loss);
            var got = Models.Gradients(stages);
            for (int i = 0; i < plain.Length; i++)
                Assert.True(plain[i].eq(got[i]).all().item<bool>(), $"{strategy}, trial {trial}: gradient {i} differs from the plain step ({schedule})");
            Assert.Equal(trace.ForwardsPerStage, stages.Select(s => s.Calls).ToArray());
        }
    }

    [Fact]
    public void Recomputed_dropout_stages_draw_the_masks_of_the_plain_step()
    {
        var stages = Models.Mlp(Widths, dropout: 0.3);
        var input = randn(8, Widths[0]);
        random.manual_seed(11);
        Models.PlainStep(stages, input);
        var plain = Models.Gradients(stages);
        Models.ZeroGrad(stages);
        var chain = Chain.Uniform(stages.Length, 1, 2);
        random.manual_seed(11);
        new ScheduleExecutor(stages).Step(new Revolve(2).Plan(chain), input, Models.Loss);
        var got = Models.Gradients(stages);
        for (int i = 0; i < plain.Length; i++)
            Assert.True(plain[i].eq(got[i]).all().item<bool>(), $"gradient {i} differs with dropout");
    }

    [Theory]
    [InlineData("storeall")]
    [InlineData("revolve1")]
    public void The_input_gradient_reaches_a_leaf_and_the_module_in_front_of_the_chain(string strategy)
    {
        var stem = Models.Mlp([Widths[0], Widths[0]], seed: 5)[0];
        var stages = Models.Mlp(Widths);
        var raw = randn(16, Widths[0]);
        var leaf = raw.clone().requires_grad_(true);
        Models.PlainStep([stem, .. stages], leaf);
        var plainStem = Models.Gradients([stem]);
        var plainLeaf = leaf.grad!.clone();
        Models.ZeroGrad([stem, .. stages]);
        leaf.grad!.zero_();

        var chain = Chain.Uniform(stages.Length, 1, 2);
        var schedule = (strategy == "storeall" ? (IPlanner)new StoreAll() : new Revolve(1)).Plan(chain);
        new ScheduleExecutor(stages).Step(schedule, stem.forward(leaf), Models.Loss);
        var gotStem = Models.Gradients([stem]);
        for (int i = 0; i < plainStem.Length; i++)
            Assert.True(plainStem[i].eq(gotStem[i]).all().item<bool>(), $"{strategy}: the stem's gradient {i} differs from the plain step");
        Assert.True(plainLeaf.eq(leaf.grad!).all().item<bool>(), $"{strategy}: the leaf input's gradient differs from the plain step");
    }

    [Fact]
    public void A_record_holds_its_input_so_Fn_after_Fe_frees_nothing_until_the_backward_in_plan_and_measurement()
    {
        // docs/model.md, "A record holds its input": x̄_2 is made from the plain x_1, so Fn(2) frees no memory until
        // B(2). Activations of 8 MiB; the plan that freed x_1 at Fn(2) was 8 MiB below the measurement from there.
        var stages = Models.Mlp([2048, 2048, 2048, 2048]);
        var input = randn(1024, 2048);
        var chain = Profiler.Profile(stages, input);
        var schedule = new Schedule("record-then-Fn", [Op.Fck(1), Op.Fe(2), Op.Fn(2), Op.Fe(3), Op.Loss, Op.B(3), Op.B(2), Op.Fe(1), Op.B(1)]);
        var plan = Simulator.Run(chain, schedule);
        var executor = new ScheduleExecutor(stages);
        executor.Step(schedule, input, Models.Loss); // the first step allocates the parameter gradients
        // The step is read from the resident set, which the runtime's own housekeeping (a collection returning pages)
        // can move by a few MiB at one operation; the error this test is for moves every operation from Fn(2) on, in
        // every step. So up to three steps are measured, and one that follows the plan throughout passes.
        var misses = new List<string>();
        for (int attempt = 0; attempt < 3; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var measured = executor.Measure(schedule, input, Models.Loss).Trace;
            var miss = Enumerable.Range(2, 5) // Fn(2) .. B(2)
                .Where(i => Math.Abs(measured.MemoryAfter[i] - plan.MemoryAfter[i]) >= 3L << 20)
                .Select(i => $"after {schedule.Ops[i]} the plan holds {plan.MemoryAfter[i] >> 20} MiB and the step {measured.MemoryAfter[i] >> 20} MiB")
                .ToList();
            if (miss.Count == 0)
                return;
            misses.Add($"step {attempt + 1}: " + string.Join("; ", miss));
        }
        Assert.Fail("no measured step follows the plan from Fn(2) to B(2): " + string.Join(" | ", misses));
    }

    [Fact]
    public void A_measured_step_has_the_shape_of_the_plan_and_follows_its_memory()
    {
        random.manual_seed(8);
        var stages = Models.Mlp(Enumerable.Repeat(256, 13).ToArray());
        var input = randn(1024, 256);
        var chain = Profiler.Profile(stages, input);
        var plan = Simulator.Run(chain, new Revolve(3).Plan(chain));
        var executor = new ScheduleExecutor(stages);
        executor.Step(plan.Schedule, input, Models.Loss); // the first step allocates the parameter gradients
        float plainLoss = executor.Step(plan.Schedule, input, Models.Loss);
        var measured = executor.Measure(plan.Schedule, input, Models.Loss);

        Assert.Equal(plainLoss, measured.Loss);
        Assert.Equal(plan.Schedule.Ops.Count, measured.Trace.MemoryAfter.Count);
        Assert.Equal(plan.ForwardsPerStage, measured.Trace.ForwardsPerStage);
        for (int i = 1; i < measured.Trace.TimeAfter.Count; i++)
            Assert.True(measured.Trace.TimeAfter[i] >= measured.Trace.TimeAfter[i - 1], $"operation {i}: the cumulative time goes back");
        // Activations are 1 MiB: the measured peak must be near the planned one (wide margins: allocator noise).
        Assert.True(measured.Trace.PeakBytes >= plan.PeakBytes / 2 && measured.Trace.PeakBytes <= plan.PeakBytes * 3 / 2 + (4L << 20),
            $"measured peak {measured.Trace.PeakBytes} bytes, planned {plan.PeakBytes}");
        Assert.True(measured.Trace.MemoryAfter[^1] < measured.Trace.PeakBytes / 2, "after B(1) the step's activations are freed");
    }

    [Fact]
    public void A_schedule_that_lacks_an_input_is_refused_with_its_index()
    {
        var stages = Models.Mlp([4, 4, 4]);
        var bad = new Schedule("bad", [Op.Fe(2)]);
        var e = Assert.Throws<ScheduleException>(() => new ScheduleExecutor(stages).Step(bad, randn(2, 4), Models.Loss));
        Assert.Equal(0, e.OpIndex);
    }

    [Theory]
    [InlineData("Fe1 Fe2 Loss B1 B2", 3)] // B(1) before B(2): d_1 is not there yet
    [InlineData("Fe1 Fe2 B2 Loss B1", 2)] // a backward before the loss
    public void A_backward_out_of_order_is_refused_with_its_index(string ops, int index)
    {
        var stages = Models.Mlp([4, 4, 4]);
        var schedule = new Schedule("bad", [.. ops.Split(' ').Select(o => o switch
        {
            "Loss" => Op.Loss,
            _ when o.StartsWith("Fe") => Op.Fe(o[2] - '0'),
            _ => Op.B(o[1] - '0'),
        })]);
        var e = Assert.Throws<ScheduleException>(() => new ScheduleExecutor(stages).Step(schedule, randn(2, 4).requires_grad_(true), Models.Loss));
        Assert.True(e.OpIndex == index, $"the refusal should name operation {index} ({ops}), named {e.OpIndex}: {e.Message}");
    }
}
