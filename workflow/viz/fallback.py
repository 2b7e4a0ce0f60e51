"""A pure-Python picture (matplotlib), for machines without Graphviz.

Boxes are laid out in layers by topological generation (inputs above what reads them);
within a layer, each event region's boxes sit together, so every region gets a dashed
frame: the event/global boundary. Each box's SVG group carries the box's id.
"""

from __future__ import annotations

import io
from pathlib import Path

import networkx as nx

from workflow.viz import style
from workflow.viz.model import GLOBAL_REGION, Picture

COLUMN, ROW = 3.4, 1.9  # spacing of boxes, in plot units
BOX_W, BOX_H = 3.0, 1.15
INCH = 0.6  # figure inches per plot unit
CHARS = 34  # label lines are cut to this many characters


def _generations(picture: Picture, ids: set[str]) -> list[list[str]]:
    network = nx.DiGraph()
    network.add_nodes_from(ids)
    network.add_edges_from((e.source, e.target) for e in picture.edges if e.source in ids and e.target in ids)
    return [sorted(g, key=lambda i: picture.node(i).name) for g in nx.topological_generations(network)]


def layout(picture: Picture) -> dict[str, tuple[float, float]]:
    """Box centres. Parameters on top; then the event regions and the parameter stage, side by
    side in column blocks; then, below them all, the global region. Within each part, one row
    per topological generation."""
    upper = [r for r in picture.regions if r != GLOBAL_REGION]
    upper_rows = _generations(picture, {n.id for n in picture.nodes if n.region in upper})
    blocks, start = {}, 0.0
    for region in upper:
        width = max((sum(picture.node(i).region == region for i in row) for row in upper_rows), default=0)
        blocks[region] = (start, width)
        start += width
    centre = (start - 1) / 2 * COLUMN

    positions = {}

    def centred(row: list[str], depth: int) -> None:
        for i, node_id in enumerate(row):
            positions[node_id] = (centre + (i - (len(row) - 1) / 2) * COLUMN, -depth * ROW)

    centred([n.id for n in picture.nodes if n.region is None], 0)
    for depth, row in enumerate(upper_rows, start=1):
        for region, (first, width) in blocks.items():
            members = [i for i in row if picture.node(i).region == region]
            for i, node_id in enumerate(members):
                positions[node_id] = ((first + (width - len(members)) / 2 + i) * COLUMN, -depth * ROW)
    lower = _generations(picture, {n.id for n in picture.nodes if n.region == GLOBAL_REGION})
    for depth, row in enumerate(lower, start=len(upper_rows) + 1):
        centred(row, depth)
    return positions


def draw(picture: Picture):
    """A matplotlib Figure of the picture."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, Patch, Rectangle

    positions = layout(picture)
    xs = [x for x, _ in positions.values()] or [0.0]
    ys = [y for _, y in positions.values()] or [0.0]
    width, height = max(xs) - min(xs) + COLUMN + 1, max(ys) - min(ys) + ROW + 1.5
    figure = Figure(figsize=(max(6.0, width * INCH), max(4.0, height * INCH)))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(min(xs) - COLUMN / 2 - 0.5, max(xs) + COLUMN / 2 + 0.5)
    axes.set_ylim(min(ys) - ROW / 2 - 1.2, max(ys) + ROW / 2 + 0.3)
    axes.set_axis_off()

    for index, (region, caption) in enumerate(picture.regions.items()):
        members = [positions[n.id] for n in picture.nodes if n.region == region]
        colour = style.region_colour(region)
        left, right = min(x for x, _ in members) - BOX_W / 2 - 0.15, max(x for x, _ in members) + BOX_W / 2 + 0.15
        bottom, top = min(y for _, y in members) - BOX_H / 2 - 0.15, max(y for _, y in members) + BOX_H / 2 + 0.3
        frame = Rectangle((left, bottom), right - left, top - bottom, fill=False, linestyle="--",
                          edgecolor=colour, linewidth=1.0, zorder=0)
        frame.set_gid(f"region{index}")
        axes.add_patch(frame)
        axes.text(left + 0.05, top - 0.05, caption, fontsize=6, color=colour, va="top", ha="left")

    largest = picture.max_cotangent()
    seen: dict[tuple[str, str], int] = {}
    for edge in picture.edges:
        (x0, y0), (x1, y1) = positions[edge.source], positions[edge.target]
        parallel = seen[(edge.source, edge.target)] = seen.get((edge.source, edge.target), -1) + 1
        skips = round(abs(y0 - y1) / ROW) > 1  # passes a row: bend it around the boxes between
        bend = (0.35 if skips else 0.0) + 0.2 * parallel * (-1) ** parallel
        arrow = {"arrowstyle": "-|>", "shrinkA": 0, "shrinkB": 0, "connectionstyle": f"arc3,rad={bend}",
                 "color": style.edge_colour(edge.cotangent, largest, edge.gradient),
                 "linewidth": style.edge_width(edge.cotangent, largest, edge.gradient),
                 "linestyle": "--" if style.dashed_edge(edge.cotangent, edge.gradient) else "-"}
        axes.annotate("", xy=(x1, y1 + BOX_H / 2), xytext=(x0, y0 - BOX_H / 2), zorder=1, arrowprops=arrow)
        dx, dy = x1 - x0, (y1 + BOX_H / 2) - (y0 - BOX_H / 2)  # arc3 bends by rad x (dy, -dx) / 2 at the middle
        axes.text((x0 + x1) / 2 + bend * dy / 2, (y0 + y1) / 2 - bend * dx / 2, edge.label.replace("\n", " "),
                  fontsize=5, ha="center", va="center", color="#333333", zorder=3,
                  bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})

    for node in picture.nodes:
        x, y = positions[node.id]
        red = node.blocked and (node.role == "param" or not node.differentiable)
        box = FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, zorder=2,
                             boxstyle="round,pad=0.02" if node.role in ("global", "source") else "square,pad=0.02",
                             facecolor=style.fill(node.role, node.trainable),
                             edgecolor=style.BLOCKED if red or not node.differentiable else "#444444",
                             linewidth=2.5 if red or node.objective else 1.0,
                             linestyle="--" if not node.differentiable else "-")
        box.set_gid(node.id)
        axes.add_patch(box)
        lines = [line if len(line) <= CHARS else line[: CHARS - 1] + "\u2026" for line in node.summary()[:6]]
        axes.text(x, y, "\n".join(lines), fontsize=6, ha="center", va="center", zorder=4)

    handles = [Patch(facecolor=fill, edgecolor="#444444", label=text) for fill, _, text in style.ROLE_STYLE.values()]
    handles.append(Patch(facecolor="white", edgecolor=style.BLOCKED, label="gradient blocked / not differentiable"))
    axes.legend(handles=handles, loc="lower center", ncol=3, fontsize=6, frameon=False)
    return figure


def save(picture: Picture, path: str | Path) -> Path:
    """Write the picture as SVG, PNG or PDF (by suffix)."""
    path = Path(path)
    draw(picture).savefig(path, dpi=150)
    return path


def svg_text(picture: Picture) -> str:
    """The picture as SVG markup, for embedding in HTML."""
    buffer = io.StringIO()
    draw(picture).savefig(buffer, format="svg")
    return buffer.getvalue()
