"""The HTML page: the SVG, the node details, and a screenshot in headless Chromium."""

import json
import os
import re
import shutil
import subprocess
from xml.etree import ElementTree

import numpy as np
import pytest
from viz_cases import cut_graph, toy_data

from workflow.gradient_flow import measure_gradient_flow
from workflow.viz import build_picture, to_html
from workflow.viz.style import ROLE_STYLE

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def details_of(page):
    return json.loads(re.search(r'class="diffdag-details">(.*?)</script>', page, re.DOTALL).group(1))


@pytest.mark.parametrize("engine", ["auto", "matplotlib"])
def test_page_embeds_an_svg_that_parses(graph, engine):
    page = to_html(graph, engine=engine)
    svg = re.search(r"<svg.*?</svg>", page, re.DOTALL).group(0)
    root = ElementTree.fromstring(svg)
    ids = {g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert {n.id for n in build_picture(graph).nodes} <= ids  # the panel script finds each box


def test_page_lists_every_node_with_kind_ports_types_shapes_and_config(graph):
    page = to_html(graph)
    details = details_of(page)
    assert sorted(d["name"] for d in details.values()) == sorted(
        ["signal", "background", "cut_x", "sigmoid[signal]", "sigmoid[background]", "kde[signal]",
         "kde[background]", "asimov_significance", "neg"])
    kde = next(d for d in details.values() if d["name"] == "kde[signal]")
    assert kde["kind"] == "reduce" and kde["op"] == "histograms.kde"
    assert {"name": "counts", "type": "Histogram", "shape": "f64[4]"} in kde["outputs"]
    assert kde["config"]["bandwidth"] == 0.3
    table = page[page.index('<table class="nodes">'):]
    assert "kde[signal]" in table and "counts: Histogram f64[4]" in table and "bandwidth = 0.3" in table


def test_page_shows_lint_problems_and_measured_warnings():
    graph = cut_graph(cut_op="cuts.step")
    page = to_html(graph, gradients=measure_gradient_flow(graph.compile(), None, toy_data()))
    notes = re.search(r'<ul class="notes">(.*?)</ul>', page, re.DOTALL).group(1)
    assert "gets no gradient" in notes and "exactly zero" in notes and "cuts.sigmoid" in notes


def test_report_section_is_a_fragment(graph):
    section = to_html(graph, standalone=False)
    assert section.startswith('<section class="diffdag-graph">') and "<html" not in section and "<svg" in section


def _browser():
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


def test_headless_chromium_screenshot_shows_the_graph(graph, tmp_path):
    browser = _browser()
    if browser is None:
        if os.environ.get("DIFFDAG_REQUIRE_BROWSER") == "1":
            pytest.fail("DIFFDAG_REQUIRE_BROWSER=1 but no chromium on PATH; install it: apt-get install chromium")
        pytest.skip("no headless Chromium (apt-get install chromium); DIFFDAG_REQUIRE_BROWSER=1 makes this fail")
    import matplotlib.image

    page = tmp_path / "graph.html"
    page.write_text(to_html(graph))
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,800",
                    page.as_uri()], capture_output=True, timeout=90, check=False)
    assert shot.exists(), "chromium wrote no screenshot"
    image = matplotlib.image.imread(shot)[..., :3]
    assert image.std() > 0.05  # not a blank page
    for role in ("event", "reduce", "global"):  # the graph's boxes, not only the page's text
        rgb = np.array([int(ROLE_STYLE[role][0][i:i + 2], 16) / 255 for i in (1, 3, 5)])
        assert np.sum(np.all(np.abs(image - rgb) < 0.02, axis=-1)) > 300, role
