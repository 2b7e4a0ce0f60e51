"""Mermaid flowchart text of a graph, for Markdown pages (GitHub, GitLab, mkdocs render it)."""

from __future__ import annotations

from workflow.viz import style
from workflow.viz.model import Picture, VizNode, as_picture

# role -> (opening, closing) of the Mermaid node shape
SHAPES = {
    "source": ("[(", ")]"),
    "param": ("{{", "}}"),
    "event": ("[", "]"),
    "reduce": ("[\\", "/]"),
    "global": ("(", ")"),
}


def _text(text: str) -> str:
    """A quoted Mermaid label: quotes as entities, lines joined by <br/>."""
    escaped = str(text).replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return '"' + escaped.replace("\n", "<br/>") + '"'


def _node(node: VizNode) -> str:
    opening, closing = SHAPES.get(node.role, SHAPES["global"])
    return f"{node.id}{opening}{_text(chr(10).join(node.summary()))}{closing}"


def to_mermaid(obj, gradients=None, collapse_samples: bool = False) -> str:
    """Mermaid ``flowchart`` text of a Graph, Program or Picture."""
    picture: Picture = as_picture(obj, gradients, collapse_samples)
    lines = ["flowchart TB"]
    for role, (fill, _, _) in style.ROLE_STYLE.items():
        lines.append(f"  classDef {role} fill:{fill},stroke:#444,color:#000")
    lines.append(f"  classDef fixed fill:{style.FIXED_PARAM_FILL},stroke:#444,color:#000")
    lines.append(f"  classDef blocked stroke:{style.BLOCKED},stroke-width:3px")
    lines.append(f"  classDef hard stroke:{style.BLOCKED},stroke-dasharray:4 3")
    for node in picture.nodes:
        if node.region is None:
            lines.append(f"  {_node(node)}")
    for index, (region, caption) in enumerate(picture.regions.items()):
        lines.append(f"  subgraph region{index}[{_text(caption)}]")
        lines += [f"    {_node(n)}" for n in picture.nodes if n.region == region]
        lines.append("  end")
    largest = picture.max_cotangent()
    link_styles = []
    for index, edge in enumerate(picture.edges):
        arrow = "-.->" if style.dashed_edge(edge.cotangent, edge.gradient) else (
            "==>" if edge.gradient or edge.cotangent else "-->")
        lines.append(f"  {edge.source} {arrow}|{_text(edge.label)}| {edge.target}")
        colour = style.edge_colour(edge.cotangent, largest, edge.gradient)
        width = style.edge_width(edge.cotangent, largest, edge.gradient)
        link_styles.append(f"  linkStyle {index} stroke:{colour},stroke-width:{width:.1f}px")
    lines += link_styles
    for node in picture.nodes:
        classes = ["fixed" if node.role == "param" and node.trainable is False else node.role]
        if node.blocked and node.role == "param":
            classes.append("blocked")
        if not node.differentiable:
            classes.append("hard")
        lines += [f"  class {node.id} {name}" for name in classes]
    return "\n".join(lines) + "\n"
