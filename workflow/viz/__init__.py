"""Pictures of graphs and programs: DOT, SVG, PNG, Mermaid and a self-contained HTML page.

    from workflow import viz
    viz.render(program, "graph.svg", gradients=flow, collapse_samples=True)  # returns the path
    text = viz.to_dot(graph)   # also to_mermaid(...), to_html(...)

SVG and PNG are drawn by Graphviz's ``dot`` when it is installed, else by matplotlib.
"""

from workflow.viz.dot import to_dot
from workflow.viz.html import to_html
from workflow.viz.mermaid import to_mermaid
from workflow.viz.model import Picture, build_picture
from workflow.viz.render import FORMATS, render, render_image

__all__ = ["FORMATS", "Picture", "build_picture", "render", "render_image", "to_dot", "to_html", "to_mermaid"]
