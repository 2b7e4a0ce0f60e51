"""Graphviz DOT text of a graph: one node per box, a cluster per region, gradient on the edges.

Node attributes ``id`` and ``class`` reach the SVG that ``dot`` draws (the HTML page
finds boxes by them); ``kind`` and ``op`` are extra attributes for tools that read DOT.
"""

from __future__ import annotations

from workflow.viz import style
from workflow.viz.model import Picture, VizNode, as_picture


def quote(text: str) -> str:
    """A DOT double-quoted string; newlines become centred line breaks."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n") + '"'


def _attributes(attributes: dict[str, object]) -> str:
    parts = []
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
            parts.append(f"{key}={value}")  # an HTML-like label
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}")
        else:
            parts.append(f"{key}={quote(value)}")
    return "[" + ", ".join(parts) + "]"


def tooltip(node: VizNode) -> str:
    """Plain-text details of a box: kind, op, ports with types and shapes, config."""
    lines = [f"{node.title} ({node.role}{': ' + node.op if node.op else ''})"]
    if node.samples and node.role != "source":
        lines.append("samples: " + ", ".join(node.samples))
    lines += [f"in  {p.name}: {p.type} {p.shape}".rstrip() for p in node.inputs]
    lines += [f"out {p.name}: {p.type} {p.shape}".rstrip() for p in node.outputs]
    lines += [f"{k} = {v}" for k, v in node.config.items()]
    if not node.differentiable:
        lines.append("not differentiable" + (f"; replace by {node.replacement}" if node.replacement else ""))
    return "\n".join(lines)


def node_attributes(node: VizNode) -> dict[str, object]:
    _, shape, _ = style.ROLE_STYLE.get(node.role, style.ROLE_STYLE["global"])
    styles = ["filled"] + (["rounded"] if node.role == "global" else [])
    if not node.differentiable:
        styles.append("dashed")
    red = node.blocked and (node.role == "param" or not node.differentiable)
    return {
        "id": node.id,
        "class": f"diffdag-node role-{node.role}" + (" blocked" if red else ""),
        "kind": node.role,
        "op": node.op,
        "label": "\n".join(node.summary()),
        "tooltip": tooltip(node),
        "shape": shape,
        "style": ",".join(styles),
        "fillcolor": style.fill(node.role, node.trainable),
        "color": style.BLOCKED if red or not node.differentiable else "#444444",
        "penwidth": 2.5 if red else (2.0 if node.objective else 1.0),
        "peripheries": 2 if node.objective else None,
    }


def legend(picture: Picture) -> str:
    """An HTML-like table of swatches, used as the graph's label (it adds no nodes)."""
    cells = "".join(f'<td bgcolor="{fill}">{text}</td>' for fill, _, text in style.ROLE_STYLE.values())
    flow = (f'<td><font color="{style.HIGH_HEX}">edge width/colour: measured cotangent norm</font></td>'
            if picture.measured else f'<td><font color="{style.GRADIENT}">solid blue: carries gradient</font></td>')
    blocked = f'<td><font color="{style.BLOCKED}">red: gradient blocked / not differentiable</font></td>'
    return f'<<table border="0" cellborder="1" cellspacing="2"><tr>{cells}</tr><tr><td colspan="5">' \
           f'<table border="0"><tr>{flow}{blocked}</tr></table></td></tr></table>>'


def to_dot(obj, gradients=None, collapse_samples: bool = False, show_legend: bool = True) -> str:
    """DOT text of a Graph, Program or Picture."""
    picture = as_picture(obj, gradients, collapse_samples)
    largest = picture.max_cotangent()
    lines = [f"digraph {quote(picture.name)} {{",
             "  graph [rankdir=TB, fontname=Helvetica, fontsize=10, newrank=true, nodesep=0.3, ranksep=0.45"
             + (f", labelloc=b, label={legend(picture)}" if show_legend else "") + "];",
             "  node [fontname=Helvetica, fontsize=10];",
             "  edge [fontname=Helvetica, fontsize=8, arrowsize=0.7];"]
    params = [n for n in picture.nodes if n.role == "param"]
    for node in params:
        lines.append(f"  {node.id} {_attributes(node_attributes(node))};")
    if params:
        lines.append("  { rank=min; " + " ".join(n.id for n in params) + " }")
    for index, (region, caption) in enumerate(picture.regions.items()):
        colour = style.region_colour(region)
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    graph {_attributes({'label': caption, 'id': f'region{index}', 'class': 'region', 'style': 'rounded,dashed', 'color': colour, 'fontcolor': colour, 'labeljust': 'l'})};")
        for node in picture.nodes:
            if node.region == region:
                lines.append(f"    {node.id} {_attributes(node_attributes(node))};")
        lines.append("  }")
    for edge in picture.edges:
        attributes = {
            "label": edge.label,
            "tooltip": f"{edge.source_port} -> {edge.target_port}: {edge.type} {edge.shape}".rstrip()
                       + (f"; cotangent norm {edge.cotangent:.4g}" if edge.cotangent is not None else ""),
            "class": "diffdag-edge" + (" gradient" if edge.gradient else ""),
            "color": style.edge_colour(edge.cotangent, largest, edge.gradient),
            "penwidth": style.edge_width(edge.cotangent, largest, edge.gradient),
            "style": "dashed" if style.dashed_edge(edge.cotangent, edge.gradient) else None,
        }
        lines.append(f"  {edge.source} -> {edge.target} {_attributes(attributes)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
