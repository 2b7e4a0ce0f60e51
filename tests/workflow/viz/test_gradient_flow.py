"""The gradient-flow lint (from declarations) and the measured flow (one value_and_grad)."""

import math

import numpy as np
import pytest
from viz_cases import cut_graph, scaled_hist_graph, toy_data, trainable_edges_graph

import workflow as wf
from nodes import cuts, histograms, metrics
from workflow.errors import Problem
from workflow.gradient_flow import (
    differentiable_replacements,
    lint_gradient_flow,
    measure_gradient_flow,
    static_gradient_flow,
)


def test_replacements_map_each_hard_twin_to_its_soft_node():
    replacements = differentiable_replacements()
    assert replacements["cuts.step"] == "cuts.sigmoid"
    assert replacements["histograms.hist"] == "histograms.kde"


def test_lint_passes_a_fully_soft_graph(graph):
    assert lint_gradient_flow(graph) == []


def test_lint_flags_a_hard_cut_naming_parameter_node_and_replacement():
    problems = lint_gradient_flow(cut_graph(cut_op="cuts.step"))
    assert len(problems) == 1 and isinstance(problems[0], Problem)
    problem = problems[0]
    assert problem.where == ("cut_x", "step[signal]", "step[background]")
    assert "'cut_x'" in problem.message and "'step[signal]' (cuts.step)" in problem.message
    assert "cuts.sigmoid" in problem.fix and "trainable=False" in problem.fix


def test_lint_flags_a_hard_histogram_on_the_parameters_only_path():
    problems = lint_gradient_flow(scaled_hist_graph("histograms.hist"))
    assert [p.where for p in problems] == [("scale", "hist[signal]", "hist[background]")]
    assert "histograms.hist" in problems[0].message and "histograms.kde" in problems[0].fix


def test_lint_passes_once_the_hard_histogram_is_replaced():
    assert lint_gradient_flow(scaled_hist_graph("histograms.kde")) == []


def test_lint_flags_trainable_edges_feeding_a_hard_histogram():
    problems = lint_gradient_flow(trainable_edges_graph("histograms.hist"))
    assert [p.where for p in problems] == [("raw_edges", "hist[signal]", "hist[background]")]
    assert lint_gradient_flow(trainable_edges_graph("histograms.kde")) == []


def test_lint_passes_when_one_path_stays_differentiable():
    # signal: hard cut, background: soft cut; cut_x still gets a gradient through the background
    with wf.Graph("mixed") as g:
        t = g.param("cut_x", init=0.0)
        s = g.source("signal", fields={"x": "float32"})
        b = g.source("background", fields={"x": "float32"})
        ys = histograms.count(cuts.step(s["x"], t))
        yb = histograms.count(cuts.sigmoid(b["x"], t))
        g.set_objective(-metrics.asimov_significance(ys, yb))
    assert lint_gradient_flow(g) == []
    assert static_gradient_flow(g).blocking_nodes == {"step[signal]"}


def test_static_flow_separates_unused_and_fixed_parameters():
    flow = static_gradient_flow(cut_graph(extra_param=True))
    assert flow.open_params == ("cut_x",)
    assert flow.unused == ("unused",)  # trainable, reaches nothing: not a blocked-gradient error
    assert "fixed_shift" not in flow.unused + flow.open_params


def test_static_flow_marks_parameter_edges_and_not_data_edges(graph):
    edges = static_gradient_flow(graph).gradient_edges
    assert ("params.cut_x", "sigmoid[signal]", "threshold") in edges
    assert ("sigmoid[signal]", "kde[signal]", "weight") in edges
    assert ("signal", "kde[signal]", "x") not in edges


def test_measured_gradient_is_zero_behind_a_hard_cut_and_warned():
    program = cut_graph(cut_op="cuts.step").compile()
    flow = measure_gradient_flow(program, None, toy_data())
    assert flow.param_norms == {"cut_x": 0.0}
    assert len(flow.warnings) == 1
    assert "'cut_x'" in flow.warnings[0] and "exactly zero" in flow.warnings[0] and "cuts.sigmoid" in flow.warnings[0]


def test_measured_gradient_is_nonzero_with_the_soft_cut_and_matches_value_and_grad(graph, data):
    program = graph.compile()
    params = program.init_params()
    flow = measure_gradient_flow(program, params, data)
    value, grads = program.value_and_grad(params, data)
    assert flow.param_norms["cut_x"] > 0 and flow.warnings == []
    assert flow.param_norms["cut_x"] == pytest.approx(abs(float(grads["cut_x"])), rel=1e-6)
    assert flow.value == pytest.approx(float(value), rel=1e-9)


def test_measured_flow_zero_behind_hard_histogram_and_nonzero_after():
    data = toy_data()
    hard = measure_gradient_flow(scaled_hist_graph("histograms.hist").compile(), None, data)
    soft = measure_gradient_flow(scaled_hist_graph("histograms.kde").compile(), None, data)
    assert hard.param_norms["scale"] == 0.0 and "histograms.kde" in hard.warnings[0]
    assert soft.param_norms["scale"] > 0 and soft.warnings == []


def test_edge_cotangent_into_negation_is_one(graph, data):
    flow = measure_gradient_flow(graph.compile(), None, data)
    assert flow.edge_norms[("asimov_significance", "neg", "x")] == pytest.approx(1.0)


def test_edge_cotangent_of_a_parameters_only_edge_equals_its_gradient():
    data = toy_data(samples=("signal",))
    graph = cut_graph(samples=("signal",))
    program = graph.compile()
    flow = measure_gradient_flow(program, None, data)
    _, grads = program.value_and_grad(program.init_params(), data)
    edge = flow.edge_norms[("params.cut_x", "sigmoid[signal]", "threshold")]
    assert edge == pytest.approx(abs(float(grads["cut_x"])), rel=1e-6)


def test_edge_cotangents_cover_every_float_edge(graph, data):
    flow = measure_gradient_flow(graph.compile(), None, data)
    assert set(flow.edge_norms) == set(graph.to_networkx().edges(keys=True))
    assert all(math.isfinite(n) for n in flow.edge_norms.values())


def test_measured_flow_to_dict_is_plain(graph, data):
    out = measure_gradient_flow(graph.compile(), None, data).to_dict()
    assert set(out) == {"value", "param_norms", "edge_norms", "warnings"}
    assert all(isinstance(e["norm"], float) for e in out["edge_norms"])


def test_measured_flow_names_a_missing_sample(graph):
    with pytest.raises(wf.DataError, match="'background'"):
        measure_gradient_flow(graph.compile(), None, {"signal": {"x": np.zeros(3, "float32")}})


def test_lint_leaves_a_cycle_to_validation():
    g = wf.Graph("cycle")
    t = g.param("t", init=0.0)
    g.add_node("cuts.sigmoid", {"x": "b.weight", "threshold": t}, name="a")
    g.add_node("cuts.sigmoid", {"x": "a.weight", "threshold": t}, name="b")
    assert lint_gradient_flow(g) == []


def test_hard_histogram_passes_gradient_to_its_weights():
    # a soft cut feeding the *weight* of an ordinary histogram keeps cut_x trainable
    graph = cut_graph(cut_op="cuts.sigmoid", hist_op="histograms.hist")
    assert lint_gradient_flow(graph) == []
    flow = measure_gradient_flow(graph.compile(), {"cut_x": 0.0}, toy_data())
    assert flow.param_norms["cut_x"] > 0 and not flow.warnings
