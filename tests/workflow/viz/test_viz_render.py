"""Writing pictures by suffix; the matplotlib fallback when Graphviz's dot is missing."""

import shutil
from xml.etree import ElementTree

import numpy as np
import pytest
from viz_cases import cut_graph

from workflow.errors import DiffdagError
from workflow.viz import build_picture, render
from workflow.viz.style import ROLE_STYLE

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """A PATH on which there is no dot program."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None


def colour_pixels(image, hex_colour, tolerance=0.02):
    rgb = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int(np.sum(np.all(np.abs(image[..., :3] - rgb) < tolerance, axis=-1)))


def test_fallback_draws_a_png_without_dot(no_dot, graph, tmp_path):
    import matplotlib.image

    path = render(graph, tmp_path / "graph.png")
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 200
    assert image[..., :3].std() > 0.05  # not blank
    for role in ("source", "param", "event", "reduce", "global"):  # every kind of box is drawn
        assert colour_pixels(image, ROLE_STYLE[role][0]) > 500, role


def test_fallback_svg_parses_and_names_every_box(no_dot, graph, tmp_path):
    root = ElementTree.parse(render(graph, tmp_path / "graph.svg")).getroot()
    ids = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert {n.id for n in build_picture(graph).nodes} <= ids
    assert {"region0", "region1", "region2"} <= ids  # the event and global regions are framed


def test_fallback_draws_collapsed_samples(no_dot, graph, tmp_path):
    root = ElementTree.parse(render(graph, tmp_path / "graph.svg", collapse_samples=True)).getroot()
    ids = {g.get("id") for g in root.iter(f"{SVG}g")}
    picture = build_picture(graph, collapse_samples=True)
    assert len(picture.nodes) == 6 and {n.id for n in picture.nodes} <= ids


def test_engine_dot_without_dot_says_how_to_fix(no_dot, graph, tmp_path):
    with pytest.raises(DiffdagError, match="apt-get install graphviz"):
        render(graph, tmp_path / "graph.svg", engine="dot")


@needs_dot
def test_svg_is_drawn_by_dot_when_installed(graph, tmp_path):
    text = render(graph, tmp_path / "graph.svg").read_text()
    assert "graphviz" in text
    ElementTree.fromstring(text)


@needs_dot
def test_dot_png_is_not_blank(graph, tmp_path):
    import matplotlib.image

    image = matplotlib.image.imread(render(graph, tmp_path / "graph.png"))
    assert image[..., :3].std() > 0.05 and colour_pixels(image, ROLE_STYLE["event"][0]) > 500


@pytest.mark.parametrize("suffix, start", [(".dot", "digraph"), (".gv", "digraph"), (".mmd", "flowchart"),
                                           (".html", "<!DOCTYPE html>")])
def test_text_formats_by_suffix(graph, tmp_path, suffix, start):
    path = render(graph, tmp_path / f"graph{suffix}")
    assert path == tmp_path / f"graph{suffix}" and path.read_text().startswith(start)


def test_unknown_suffix_names_the_known_ones(graph, tmp_path):
    with pytest.raises(DiffdagError, match=r"\.svg"):
        render(graph, tmp_path / "graph.jpeg")
    assert not (tmp_path / "graph.jpeg").exists()


def test_program_renders_like_its_graph(graph, tmp_path):
    program = cut_graph().compile()
    assert render(program, tmp_path / "p.dot").read_text() == render(graph, tmp_path / "g.dot").read_text()


def test_an_invalid_graph_is_still_drawn(tmp_path):
    import workflow as wf

    g = wf.Graph("unfinished")  # no `with`: not validated
    events = g.source("signal", fields={"x": "float32"})
    g.add_node("cuts.sigmoid", {"x": events["x"]})  # threshold not connected
    assert g.problems()
    text = render(g, tmp_path / "g.dot").read_text()
    assert "sigmoid[signal]" in text and "signal" in text
