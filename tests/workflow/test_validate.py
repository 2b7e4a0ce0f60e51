"""Build-time validation: each problem is found, named, and all are reported together."""

import numpy as np
import pytest

import workflow as wf
from nodes import cuts, histograms, metrics


def problems_of(build) -> str:
    with pytest.raises(wf.GraphError) as info:
        build()
    return str(info.value)


def test_cycle_is_reported_with_its_path():
    def build():
        g = wf.Graph("loop")
        g.source("s", fields={"x": "float32"})
        g.add_node("arith.add_events", {"a": "s.x", "b": "second.out"}, name="first")
        g.add_node("arith.add_events", {"a": "s.x", "b": "first.out"}, name="second")
        g.validate()

    message = problems_of(build)
    assert "cycle:" in message and "first" in message and "second" in message


def test_unbound_input_names_node_port_and_type():
    def build():
        with wf.Graph("g") as g:
            events = g.source("s", fields={"x": "float32"})
            g.add_node("cuts.sigmoid", {"x": events["x"]}, name="cut")

    message = problems_of(build)
    assert "'cut'" in message and "'threshold'" in message and "Scalar" in message
    assert "not connected" in message


def test_unknown_parameter_is_named():
    def build():
        with wf.Graph("g") as g:
            events = g.source("s", fields={"x": "float32"})
            g.add_node("cuts.sigmoid", {"x": events["x"], "threshold": "params.cut_mass"}, name="cut")

    message = problems_of(build)
    assert "unknown parameter 'cut_mass'" in message and "g.param('cut_mass'" in message


def test_parameter_declared_twice_is_reported():
    def build():
        with wf.Graph("g") as g:
            g.param("t", init=0.0)
            g.param("t", init=1.0)

    assert "parameter 't' is declared twice" in problems_of(build)


def test_port_type_mismatch_names_expected_and_found_types():
    def build():
        with wf.Graph("g") as g:
            events = g.source("s", fields={"x": "float32"})
            weights = g.param("weights", init={"w": np.ones(2)})
            cuts.sigmoid(events["x"], weights, name="cut")

    message = problems_of(build)
    assert "'cut'" in message and "'threshold'" in message
    assert "expects Scalar, got Pytree" in message


def test_record_fed_to_an_array_port_says_to_index_it():
    def build():
        with wf.Graph("g") as g:
            events = g.source("s", fields={"x": "float32"})
            cuts.sigmoid(events, 0.0, name="cut")

    message = problems_of(build)
    assert "expects Events, got Record" in message and "events['field']" in message


def test_global_node_fed_per_event_arrays_is_reported():
    def build():
        with wf.Graph("g") as g:
            s = g.source("s", fields={"x": "float32"})
            b = g.source("b", fields={"x": "float32"})
            metrics.asimov_significance(s["x"], b["x"], name="z")

    message = problems_of(build)
    assert "global node 'z'" in message and "per-event" in message and "'signal'" in message
    assert "histograms.count" in message


def test_event_node_fed_rows_from_two_samples_is_reported():
    def build():
        with wf.Graph("g") as g:
            s = g.source("signal", fields={"x": "float32"})
            b = g.source("background", fields={"x": "float32"})
            g.add_node("arith.mul_events", {"a": s["x"], "b": b["x"]}, name="product")

    message = problems_of(build)
    assert "event node 'product'" in message and "'signal'" in message and "'background'" in message


def test_shapes_that_do_not_agree_are_reported_by_eval_shape():
    def build():
        with wf.Graph("g") as g:
            a = g.param("a", init=np.zeros(3))
            b = g.param("b", init=np.zeros(4))
            g.add_node("arith.add", {"a": a, "b": b}, name="total")

    message = problems_of(build)
    assert "'total'" in message and "shapes do not agree" in message
    assert "float64[3]" in message and "float64[4]" in message


def test_graph_without_objective_cannot_compile():
    with wf.Graph("g") as g:
        g.param("a", init=0.0)
    with pytest.raises(wf.GraphError, match="no objective"):
        g.compile()


def test_objective_that_is_not_a_scalar_is_reported():
    with wf.Graph("g") as g:
        a = g.param("a", init=np.zeros(3))
        doubled = 2.0 * a
    with pytest.raises(wf.GraphError, match=r"is not a scalar: it has shape \(3,\)"):
        g.compile(objective=doubled)


def test_per_event_objective_is_reported():
    with wf.Graph("g") as g:
        events = g.source("s", fields={"x": "float32"})
        weight = cuts.sigmoid(events["x"], 0.0)
    with pytest.raises(wf.GraphError, match="objective .* is per-event"):
        g.compile(objective=weight)


def test_unknown_op_suggests_registered_names():
    def build():
        with wf.Graph("g") as g:
            events = g.source("s", fields={"x": "float32"})
            g.add_node("cuts.sigmod", {"x": events["x"], "threshold": 0.0}, name="cut")

    message = problems_of(build)
    assert "unknown op 'cuts.sigmod'" in message and "cuts.sigmoid" in message


def test_bad_config_names_node_and_field():
    def build():
        with wf.Graph("g") as g:
            events = g.source("s", fields={"x": "float32"})
            cuts.sigmoid(events["x"], 0.0, slope=-1.0, name="cut")

    message = problems_of(build)
    assert "'cut'" in message and "slope" in message and "-1.0" in message


def test_unknown_field_of_a_sample_lists_its_fields():
    def build():
        with wf.Graph("g") as g:
            events = g.source("s", fields={"x": "float32"})
            cuts.sigmoid(events["mass"], 0.0, name="cut")

    message = problems_of(build)
    assert "sample 's' has no field 'mass'" in message and "fields are x" in message


def test_all_problems_are_reported_together():
    def build():
        with wf.Graph("g") as g:
            g.param("t", init=0.0)
            g.param("t", init=0.0)
            events = g.source("s", fields={"x": "float32"})
            cuts.sigmoid(events["x"], "params.nope", name="cut")
            g.add_node("cuts.sigmoid", {"x": events["x"]}, name="unbound")

    with pytest.raises(wf.GraphError) as info:
        build()
    assert len(info.value.problems) == 3
    assert "has 3 problems" in str(info.value)


def test_valid_graph_passes_validation():
    with wf.Graph("g") as g:
        t = g.param("t", init=0.0)
        events = g.source("s", fields={"x": "float32"})
        count = histograms.count(cuts.sigmoid(events["x"], t))
    g.compile(objective=-count)


def test_reading_a_node_with_an_unknown_op_reports_only_the_unknown_op():
    def build():
        with wf.Graph("g") as g:
            events = g.source("s", fields={"x": "float32"})
            g.add_node("cuts.nope", {"x": events["x"], "threshold": 0.0}, name="cut")
            g.add_node("histograms.count", {"weight": "cut.weight"}, name="count")

    with pytest.raises(wf.GraphError) as info:
        build()
    assert len(info.value.problems) == 1 and "unknown op 'cuts.nope'" in str(info.value)
