"""Mermaid text for Markdown pages."""

from viz_cases import cut_graph

from workflow.viz import build_picture, to_mermaid


def test_mermaid_has_a_node_line_per_entry_and_an_arrow_per_edge(graph):
    text = to_mermaid(graph)
    picture = build_picture(graph)
    assert text.startswith("flowchart TB")
    for node in picture.nodes:
        assert f"class {node.id} {node.role}" in text
    arrows = [line for line in text.splitlines() if "-->" in line or "==>" in line or "-.->" in line]
    assert len(arrows) == len(picture.edges)
    assert text.count("subgraph ") == 3


def test_mermaid_marks_blocked_parameter_and_hard_nodes():
    graph = cut_graph(cut_op="cuts.step")
    picture = build_picture(graph)
    text = to_mermaid(picture)
    param = next(n for n in picture.nodes if n.role == "param")
    hard = [n.id for n in picture.nodes if n.op == "cuts.step"]
    assert f"class {param.id} blocked" in text
    assert all(f"class {i} hard" in text for i in hard) and len(hard) == 2


def test_mermaid_quotes_labels():
    text = to_mermaid(cut_graph())
    assert '["sigmoid[signal]<br/>cuts.sigmoid (event)"]' in text
