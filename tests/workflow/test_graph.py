"""The graph DSL: handles, sources, parameters, fan-out over samples, networkx view."""

import numpy as np
import pytest

import workflow as wf
from nodes import cuts, histograms, metrics


def build(samples=("signal", "background")):
    with wf.Graph("dsl") as g:
        t = g.param("t", init=0.5, bounds=(-1, 1))
        counts = {}
        for sample in samples:
            events = g.source(sample, fields={"x": "float32", "y": "float32"})
            counts[sample] = histograms.count(cuts.sigmoid(events["x"], t, slope=0.1))
        z = metrics.asimov_significance(counts["signal"], counts["background"])
        g.set_objective(-z)
    return g


def test_loop_over_samples_builds_one_branch_per_sample():
    g = build()
    assert {"sigmoid[signal]", "sigmoid[background]", "count[signal]", "count[background]"} <= set(g.nodes)
    assert g.nodes["sigmoid[signal]"].inputs["x"] == wf.graph.Ref("signal", "x")


def test_handles_index_event_records_by_field():
    with wf.Graph("g") as g:
        events = g.source("s", fields={"mass": "float64"})
        handle = events["mass"]
    assert (handle.target, handle.port) == ("s", "mass")
    assert g.port_type(handle.ref) is wf.Events


def test_calling_a_node_in_a_graph_returns_a_handle_to_its_output():
    with wf.Graph("g") as g:
        events = g.source("s", fields={"x": "float32"})
        weight = cuts.sigmoid(events["x"], 0.0)
    assert isinstance(weight, wf.Handle) and weight.port == "weight"
    assert g.nodes[weight.target].op == "cuts.sigmoid"


def test_arithmetic_on_handles_adds_nodes_of_the_right_kind():
    with wf.Graph("g") as g:
        events = g.source("s", fields={"x": "float32"})
        weighted = 2.0 * cuts.sigmoid(events["x"], 0.0)
        total = -histograms.count(weighted)
    assert g.nodes[weighted.target].op == "arith.mul_events_by"
    assert g.nodes[weighted.target].config.reversed
    assert g.nodes[total.target].op == "arith.neg"


def test_networkx_view_has_every_entry_and_port_labelled_edges():
    nxg = build().to_networkx()
    assert nxg.nodes["params.t"]["role"] == "param"
    assert nxg.nodes["signal"]["role"] == "source"
    assert nxg.nodes["count[signal]"]["kind"] == "reduce"
    edge = nxg.get_edge_data("params.t", "sigmoid[signal]")
    assert edge["threshold"]["src_port"] == "value"


def test_parameters_accept_scalars_arrays_and_pytrees():
    with wf.Graph("g") as g:
        g.param("scalar", init=1.0)
        g.param("array", init=np.zeros(3))
        g.param("tree", init={"w": np.ones((2, 2)), "b": np.zeros(2)}, trainable=False)
    assert g.params["scalar"].type is wf.Scalar
    assert g.params["array"].type is wf.Array
    assert g.params["tree"].type is wf.Pytree and not g.params["tree"].trainable


def test_equal_graphs_compare_equal_and_a_changed_config_does_not():
    assert build() == build()
    other = build()
    other.nodes["sigmoid[signal]"].config = other.nodes["sigmoid[signal]"].config.model_copy(
        update={"slope": 0.2})
    assert build() != other


def test_handles_are_symbolic_outside_a_graph_only_with_a_graph():
    g = build()
    with pytest.raises(RuntimeError, match="outside a graph"):
        cuts.sigmoid(wf.Handle(g, "signal", "x"), 0.0)
