"""The diffdag command line, run for real in a subprocess: exit codes, messages, run folders, resume."""

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = sorted((ROOT / "graphs").glob("*.yaml"))
CUTS = ROOT / "graphs" / "cut_optimisation.yaml"


def diffdag(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "workflow", *map(str, args)], capture_output=True, text=True, check=False,
                          cwd=cwd or ROOT, timeout=timeout)


def test_schema_prints_the_json_schema_of_graph_files():
    result = diffdag("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert {"version", "samples", "params", "nodes", "objective", "optimizer", "run"} <= set(schema["properties"])


def test_python_m_workflow_is_the_diffdag_command():
    installed = subprocess.run(["diffdag", "--version"], capture_output=True, text=True, check=False)
    assert installed.returncode == 0 and installed.stdout == diffdag("--version").stdout


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda p: p.stem)
def test_check_accepts_every_graph_file(graph):
    result = diffdag("check", graph)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda p: p.stem)
def test_describe_shows_samples_parameters_nodes_and_the_split(graph):
    result = diffdag("describe", graph)
    assert result.returncode == 0, result.stderr
    for heading in ("samples (", "parameters (", "nodes (", "event/global split", "global stage"):
        assert heading in result.stdout


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda p: p.stem)
def test_run_with_few_steps_writes_a_complete_run_folder(graph, tmp_path):
    result = diffdag("run", graph, "--steps", 2, "--out", tmp_path / "run", "--no-progress")
    assert result.returncode == 0, result.stderr
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"history.json", "history.csv", "params.npz", "params.json", "report.html", "graph.yaml",
            "checkpoints", "summary.json"} <= names
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 2


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda p: p.stem)
def test_viz_draws_every_graph_file(graph, tmp_path):
    pytest.importorskip("workflow.commands.viz")
    result = diffdag("viz", graph, "-o", tmp_path / "g.svg")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "g.svg").read_text().lstrip().startswith(("<svg", "<?xml"))


WORKSPACE = {
    "channels": [{"name": "ch", "samples": [
        {"name": "signal", "data": [5.0, 10.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
        {"name": "background", "data": [50.0, 60.0], "modifiers": []}]}],
    "observations": [{"name": "ch", "data": [52.0, 63.0]}],
    "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
    "version": "1.0.0",
}


def test_cls_subcommand_runs_the_statistics_command(tmp_path):
    pytest.importorskip("workflow.commands.cls")
    path = tmp_path / "workspace.json"
    path.write_text(json.dumps(WORKSPACE))
    result = diffdag("cls", path)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"CLs_exp", "CLs_obs"}


GOOD = CUTS.read_text()
BAD = {
    "malformed_yaml": (GOOD.replace("run: {steps", "run: [steps"), r"line \d+, column \d+: malformed YAML"),
    "unknown_version": (GOOD.replace("version: 1", "version: 7"), r"line 3 \(version\): unknown version 7"),
    "unknown_node": (GOOD.replace("op: arith.neg", "op: arith.negate"), r"line \d+ \(nodes\[6\]\.op\).*unknown op"),
    "dangling_input": (GOOD.replace('b: "pass_y[{sample}]"', 'b: "pass_z[{sample}]"'),
                       r"line \d+ \(nodes\[2\]\).*no node or sample 'pass_z\[signal\]'"),
    "type_mismatch": (GOOD.replace("inputs: {x: significance}", 'inputs: {x: "selected[signal]"}'),
                      r"line \d+ \(nodes\[6\]\).*per-event"),
    "cycle": (GOOD.replace('inputs: {x: "{sample}.x", threshold: params.cut_x}',
                           'inputs: {x: "selected[{sample}]", threshold: params.cut_x}'), r"line \d+ \(nodes\[\d\]\): cycle: "),
    "missing_data_file": (re.sub(r"source: \{kind: gaussian, fields: \[x, y\], means: \[1.0, 0.5\][^\n]*",
                                 "fields: {x: float32, y: float32}\n    source: {kind: npz, path: nowhere.npz}", GOOD),
                          r"line \d+ \(samples\.signal\.source\.path\): data file .*nowhere\.npz' does not exist"),
    "parameter_without_init": (GOOD.replace("cut_y: {init: -1.0, ", "cut_y: {"),
                               r"line \d+ \(params\.cut_y\.init\): 'init' is required"),
}


CASES = [(case, "check") for case in sorted(BAD)] + [("unknown_node", "run"), ("missing_data_file", "run"),
                                                     ("parameter_without_init", "describe")]


@pytest.mark.parametrize("case,command", CASES)
def test_bad_file_exits_2_with_one_paragraph_naming_file_and_place(case, command, tmp_path):
    text, expected = BAD[case]
    assert text != GOOD
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = diffdag(command, path, *(["--out", tmp_path / "run"] if command == "run" else []))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    message = result.stderr.strip()
    assert "\n\n" not in message and f"{case}.yaml" in message
    assert re.search(expected, message), message
    assert not (tmp_path / "run").exists()


def test_missing_graph_file_exits_2():
    result = diffdag("check", "no/such/graph.yaml")
    assert result.returncode == 2 and "no such graph file" in result.stderr and "Traceback" not in result.stderr


def test_existing_run_folder_is_left_untouched_without_force(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "history.json").write_text("earlier run")
    (out / "notes.txt").write_text("mine")
    refused = diffdag("run", CUTS, "--steps", 1, "--out", out)
    assert refused.returncode == 2 and "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert (out / "history.json").read_text() == "earlier run"
    forced = diffdag("run", CUTS, "--steps", 1, "--out", out, "--force", "--no-progress")
    assert forced.returncode == 0, forced.stderr
    assert (out / "history.json").read_text() != "earlier run"
    assert (out / "notes.txt").read_text() == "mine"  # only what a run writes is replaced


def test_default_run_folder_is_runs_slash_graph_name(tmp_path):
    result = diffdag("run", CUTS, "--steps", 1, "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "runs" / "cut_optimisation" / "report.html").is_file()


def test_killed_run_resumed_ends_with_the_parameters_of_an_uninterrupted_run(tmp_path):
    steps, every = 200, 5
    common = ["--steps", steps, "--checkpoint-every", every, "--no-progress"]
    straight = diffdag("run", CUTS, "--out", tmp_path / "straight", *common)
    assert straight.returncode == 0, straight.stderr
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-m", "workflow", "run", str(CUTS), "--out", str(killed),
                                *map(str, common)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pointer = killed / "checkpoints" / "latest.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (pointer.exists() and json.loads(pointer.read_text())["step"] >= 3 * every):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = json.loads(pointer.read_text())["step"]
    assert 3 * every <= done < steps, "the run was not killed part-way"
    resumed = diffdag("run", CUTS, "--resume", killed, *common)
    assert resumed.returncode == 0, resumed.stderr
    with np.load(tmp_path / "straight" / "params.npz") as a, np.load(killed / "params.npz") as b:
        assert a.files == b.files
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])
    history = json.loads((killed / "history.json").read_text())
    assert [r["step"] for r in history] == list(range(steps))


def test_resume_of_a_folder_without_checkpoints_exits_2(tmp_path):
    result = diffdag("run", CUTS, "--resume", tmp_path)
    assert result.returncode == 2 and "no checkpoint to resume from" in result.stderr
