"""The run report: history files, a self-contained report.html, and Chromium opening it cleanly."""

import base64
import csv
import json
import re
import shutil
import subprocess
import tempfile

import numpy as np
import optax
import pytest

import workflow as wf
from nodes import cuts, histograms, metrics
from workflow.optimize import optimize
from workflow.report import write_report

IMAGE = re.compile(r'<img alt="([^"]*)" src="data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)">')


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    rng = np.random.default_rng(0)
    data = {s: {"x": rng.normal(m, 1, 3000).astype("float32")} for s, m in (("signal", 0.5), ("background", -0.5))}
    with wf.Graph("report") as g:
        cut = g.param("cut", init=-1.0, bounds=(-3, 3))
        counts = {}
        for sample in data:
            events = g.source(sample, fields={"x": "float32"})
            weight = cuts.sigmoid(events["x"], cut, slope=0.2)
            histograms.kde(events["x"], weight, edges=(-3.0, -1.0, 0.0, 1.0, 3.0), bandwidth=0.3)
            counts[sample] = histograms.count(weight)
        g.set_objective(-metrics.asimov_significance(counts["signal"] * 0.01, counts["background"] * 0.1))
    program = g.compile()
    out = tmp_path_factory.mktemp("run")
    result = optimize(program, data, 5, optax.adam(0.1), out=out, progress=False)
    write_report(out, program, result, data)
    return out


def images(folder):
    return IMAGE.findall((folder / "report.html").read_text())


def test_history_is_written_as_json_and_csv_with_one_row_per_step(run_folder):
    history = json.loads((run_folder / "history.json").read_text())
    rows = list(csv.DictReader((run_folder / "history.csv").open()))
    assert len(history) == len(rows) == 5
    assert {"step", "objective", "objective_hard", "grad_norm", "time", "cut"} <= set(rows[0])


def test_report_embeds_objective_parameters_and_before_after_histograms(run_folder):
    alts = [alt for alt, _, _ in images(run_folder)]
    assert {"objective curve", "parameter trajectories", "kde"} <= set(alts)
    for _, mime, data in images(run_folder):
        raw = base64.b64decode(data)
        assert raw.startswith(b"\x89PNG") if mime == "image/png" else b"<svg" in raw[:500]


def test_report_is_self_contained(run_folder):
    text = (run_folder / "report.html").read_text()
    assert not re.search(r'(src|href)="(?!data:)', text)  # nothing loaded from elsewhere
    assert "<script" not in text


def test_report_summary_shows_the_objective_before_and_after(run_folder):
    text = (run_folder / "report.html").read_text()
    assert "initial (hard)" in text and "final (hard)" in text and "<td>objective</td>" in text


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_report_opens_in_headless_chromium_without_console_errors_and_draws_its_images(run_folder, tmp_path):
    """Chromium loads the page (--dump-dom), logs no CONSOLE messages, and the screenshot has the pictures."""
    page = (run_folder / "report.html").as_uri()
    profile = tempfile.mkdtemp()
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page],
                         capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    assert dom.stdout.count("<img") == len(images(run_folder)) >= 3
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                    "--window-size=1200,3000", page], capture_output=True, timeout=120, check=True)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    coloured = np.mean(np.ptp(pixels, axis=-1) > 0.15)  # plots draw coloured lines and fills; text is grey
    assert coloured > 0.005
    shutil.rmtree(profile, ignore_errors=True)
