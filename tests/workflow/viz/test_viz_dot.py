"""DOT text: one node per graph entry, kinds, regions, collapsing, gradient marks."""

import shutil
import subprocess
from xml.etree import ElementTree

import pytest
from viz_cases import cut_graph, toy_data, trainable_edges_graph

from workflow.gradient_flow import measure_gradient_flow
from workflow.viz import build_picture, to_dot

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pydot's use of pyparsing
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def parsed_nodes(text):
    """{node name in the graph: attributes} from DOT text, through pydot."""
    pydot = pytest.importorskip("pydot")
    (dot_graph,) = pydot.graph_from_dot_data(text)
    found = {}

    def visit(graph):
        for node in graph.get_nodes():
            attributes = node.get_attributes()
            if node.get_name().strip('"') not in ("node", "edge", "graph") and "kind" in attributes:
                found[node.get_name().strip('"')] = attributes
        for sub in graph.get_subgraphs():
            visit(sub)

    visit(dot_graph)
    return dot_graph, found


def names(graph):
    """Picture ids -> graph entries ('params.NAME' for parameters)."""
    return {n.id: n.members[0] for n in build_picture(graph).nodes}


def test_dot_has_one_node_per_graph_node_with_its_kind(graph):
    _, nodes = parsed_nodes(to_dot(graph))
    ids = names(graph)
    network = graph.to_networkx()
    assert sorted(ids[i] for i in nodes) == sorted(network.nodes)
    for node_id, attributes in nodes.items():
        entry = network.nodes[ids[node_id]]
        expected = entry["kind"] if entry["role"] == "node" else entry["role"]
        assert attributes["kind"].strip('"') == expected


def test_dot_edges_match_graph_edges(graph):
    dot_graph, _ = parsed_nodes(to_dot(graph))
    assert len(dot_graph.get_edges()) == graph.to_networkx().number_of_edges()


def test_dot_draws_event_regions_apart_from_the_global_region(graph):
    dot_graph, _ = parsed_nodes(to_dot(graph))
    ids = names(graph)
    regions = sorted(sorted(ids[n.get_name()] for n in sub.get_nodes() if n.get_name() in ids)
                     for sub in dot_graph.get_subgraphs() if sub.get_name().startswith("cluster"))
    assert regions == [["asimov_significance", "neg"], ["background", "kde[background]", "sigmoid[background]"],
                       ["kde[signal]", "sigmoid[signal]", "signal"]]


def test_parameter_stage_nodes_sit_apart_from_the_global_region():
    picture = build_picture(trainable_edges_graph())
    regions = {n.name: n.region for n in picture.nodes}
    assert regions["increasing_edges"] == "parameters"
    assert regions["asimov_significance"] == regions["neg"] == "global"
    assert regions["raw_edges"] is None  # parameters are drawn above every region
    assert to_dot(picture).count("subgraph cluster_") == 4


def test_collapsed_dot_draws_each_branch_once(graph):
    _, nodes = parsed_nodes(to_dot(graph, collapse_samples=True))
    labels = sorted(a["label"].strip('"').split("\\n")[0] for a in nodes.values())
    assert labels == ["asimov_significance", "cut_x", "kde[*] \u00d72", "neg", "samples \u00d72",
                      "sigmoid[*] \u00d72"]


def test_blocked_parameter_and_hard_node_are_marked():
    _, nodes = parsed_nodes(to_dot(cut_graph(cut_op="cuts.step")))
    blocked = sorted(a["label"].strip('"').split("\\n")[0] for a in nodes.values() if "blocked" in a["class"])
    assert blocked == ["cut_x", "step[background]", "step[signal]"]


def test_soft_graph_has_no_blocked_marks(graph):
    _, nodes = parsed_nodes(to_dot(graph))
    assert not any("blocked" in a["class"] for a in nodes.values())


def test_measured_cotangents_set_edge_widths(graph):
    flow = measure_gradient_flow(graph.compile(), None, toy_data())
    dot_graph, _ = parsed_nodes(to_dot(graph, gradients=flow))
    widths = {float(e.get_attributes()["penwidth"]) for e in dot_graph.get_edges()}
    assert len(widths) > 3  # edges drawn by their own cotangent, not one width for all


def test_labels_show_port_types_shapes_and_config(graph):
    text = to_dot(graph)
    assert "x: f32[n]" in text  # a sample's field and its shape
    assert "out counts: Histogram f64[4]" in text  # a reduce node's output type and shape
    assert "slope = 0.3" in text


@needs_dot
def test_dot_text_renders_to_svg_that_parses(graph):
    svg = subprocess.run(["dot", "-Tsvg"], input=to_dot(graph).encode(), capture_output=True, check=True).stdout
    root = ElementTree.fromstring(svg)
    ids = {g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert {n.id for n in build_picture(graph).nodes} <= ids
