using Remat.Planners;

namespace Remat.Tests;

public class GraphTests
{
    /// <summary>A random graph: each stage reads its predecessor and, sometimes, one or two earlier outputs (skips).</summary>
    internal static Graph RandomGraph(Random rng, int count)
    {
        var chain = RandomChains.Make(rng, count);
        var inputs = Enumerable.Range(1, count).Select(v =>
        {
            var ins = new SortedSet<int> { v - 1 };
            for (int extra = rng.Next(0, 3); extra > 0 && v > 1; extra--)
                ins.Add(rng.Next(0, v - 1));
            return (IReadOnlyList<int>)ins.ToArray();
        });
        return new Graph(chain.InputBytes, chain.Stages, inputs, "random");
    }

    [Fact]
    public void On_a_chain_the_graph_search_finds_the_chain_optimum()
    {
        var rng = new Random(43);
        for (int trial = 0; trial < 150; trial++)
        {
            var chain = RandomChains.Make(rng, rng.Next(1, GraphSearch.MaxNodes + 1));
            var graph = Graph.FromChain(chain);
            long chainMin = ExhaustiveSearch.MinimumPeak(chain), graphMin = GraphSearch.MinimumPeak(graph);
            Assert.True(chainMin == graphMin, $"trial {trial}: least peaks {chainMin} (chain) and {graphMin} (graph); " +
                string.Join(" ", new ExhaustiveSearch(chainMin).Plan(chain).Ops) + " | " + string.Join(" ", GraphSearch.Plan(graph, graphMin)!.Ops));
            long budget = RandomChains.Between(rng, ExhaustiveSearch.MinimumPeak(chain), Simulator.Run(chain, new StoreAll().Plan(chain)).PeakBytes);
            var exact = Simulator.Run(chain, new ExhaustiveSearch(budget).Plan(chain));
            var found = GraphSimulator.Run(graph, GraphSearch.Plan(graph, budget)!);
            Assert.True(found.PeakBytes <= budget && found.Time == exact.Time, $"trial {trial}: graph search {found.Time} at {found.PeakBytes}, chain optimum {exact.Time}, budget {budget}");
        }
    }

    [Fact]
    public void Graph_files_round_trip_and_read_inputs_by_number_or_name()
    {
        var graph = RandomGraph(new Random(5), 7);
        var back = ChainJson.ParseGraph(ChainJson.Serialize(graph));
        Assert.Equal(graph.Count, back.Count);
        for (int v = 1; v <= graph.Count; v++)
        {
            Assert.Equal(graph[v], back[v]);
            Assert.Equal(graph.Inputs(v), back.Inputs(v));
        }
        var named = ChainJson.ParseGraph("""
            {"input":{"bytes":4},"stages":[
              {"name":"a","forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4},
              {"name":"b","inputs":["a"],"forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4},
              {"name":"c","inputs":["input","a",2],"forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4}]}
            """);
        Assert.Equal([0, 1, 2], named.Inputs(3));
        Assert.True(Graph.FromChain(Chain.Uniform(3, 4, 8)).IsChain);
        Assert.DoesNotContain("inputs", ChainJson.Serialize(Chain.Uniform(3, 4, 8)));
    }

    [Theory]
    [InlineData("""{"name":"b","inputs":[2],"forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4}""", "earlier stages only")]
    [InlineData("""{"name":"b","inputs":["zz"],"forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4}""", "names no earlier stage")]
    [InlineData("""{"name":"b","inputs":[1,1],"forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4}""", "twice")]
    [InlineData("""{"name":"b","inputs":[0],"forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4}""", "read by no later stage")]
    public void A_bad_graph_file_names_the_stage_and_the_fix(string second, string expected)
    {
        string json = $$"""{"input":{"bytes":4},"stages":[{"name":"a","forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4},{{second}}]}""";
        var e = Assert.Throws<ChainException>(() => ChainJson.ParseGraph(json, "g.json"));
        Assert.Contains(expected, e.Message);
        Assert.Contains("stage", e.Message);
    }

    [Fact]
    public void A_branching_file_read_as_a_chain_says_to_plan_it_as_a_graph()
    {
        string json = """{"input":{"bytes":4},"stages":[{"forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4},{"inputs":[0,1],"forwardTime":1,"backwardTime":2,"outputBytes":4,"savedBytes":4}]}""";
        var e = Assert.Throws<ChainException>(() => ChainJson.Parse(json, "g.json"));
        Assert.Contains("plan it as a graph (GraphPlanner in Remat.CpSat)", e.Message);
        // The command says it in its own terms.
        string file = Path.Combine(Path.GetTempPath(), $"remat-branching-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, json);
        try
        {
            var error = new StringWriter();
            Assert.Equal(2, Cli.Cli.Run(["plan", "--chain", file, "--budget", "1KiB"], new StringWriter(), error));
            Assert.Contains("plan it as a graph (remat plan --graph)", error.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Free_is_refused_for_an_output_one_stage_reads_and_allowed_for_a_skip()
    {
        var graph = new Graph(4, Enumerable.Range(1, 3).Select(k => new Stage($"s{k}", 1, 2, 4, 8)), [[0], [1], [1, 2]]);
        var e = Assert.Throws<ScheduleException>(() => GraphSimulator.Run(graph, new Schedule("x", [Op.Fck(1), Op.Fck(2), Op.Free(2)])));
        Assert.Contains("read by one stage only", e.Message);
        var ok = new Schedule("x", [Op.Fck(1), Op.Fck(2), Op.Fe(3), Op.Free(1)]); // x0, x2 and x̄3 remain
        // and x1's bytes with them: x̄3 was made from it and holds it until B(3) (docs/model.md).
        Assert.Equal(4 + 4 + 8 + 4, GraphSimulator.Run(graph, ok, complete: false).MemoryAfter[^1]);
    }
}

public class GraphSegmentsTests
{
    [Fact]
    public void Every_segmentation_of_a_random_graph_is_valid_and_fewer_segments_hold_no_more_records()
    {
        var rng = new Random(59);
        for (int trial = 0; trial < 100; trial++)
        {
            var graph = GraphTests.RandomGraph(rng, rng.Next(1, 30));
            foreach (int n in Enumerable.Range(1, graph.Count))
            {
                var schedule = GraphSegments.Plan(graph, n);
                Trace trace;
                try
                {
                    trace = GraphSimulator.Run(graph, schedule);
                }
                catch (ScheduleException e)
                {
                    Assert.Fail($"trial {trial}, {n} segments: {e.Message}\n{string.Join(" ", schedule.Ops)}");
                    return;
                }
                // Every node but the last segment's runs twice: once in the forward, once recorded before its backward.
                int lastStart = 1 + (n - 1) * graph.Count / n;
                Assert.Equal(graph.Count + lastStart - 1, trace.ForwardCount);
            }
        }
    }

    [Fact]
    public void On_the_synthetic_unet_a_segmentation_needs_far_less_memory_than_store_all()
    {
        var graph = GraphModels.UNet();
        long storeAll = GraphSimulator.Run(graph, graph.StoreAll()).PeakBytes;
        long least = Enumerable.Range(1, graph.Count).Min(n => GraphSimulator.Run(graph, GraphSegments.Plan(graph, n)).PeakBytes);
        Assert.True(least < storeAll * 0.8, $"the leanest segmentation peaks at {least}, store-all at {storeAll}");
        Assert.NotNull(GraphSegments.Fastest(graph, least));
        Assert.Null(GraphSegments.Fastest(graph, least - 1));
    }
}
