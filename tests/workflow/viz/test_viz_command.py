"""``diffdag viz``: the command's core on Python graphs, and the graph-file path."""

from viz_cases import cut_graph, toy_data

from workflow.commands.viz import draw, main

GRAPH_FILE = """\
version: 1
name: cut_optimisation
samples:
  signal: {{source: {{kind: gaussian, fields: [x], means: [1], cov: [[1]], n_events: 500, seed: 1}}}}
  background: {{source: {{kind: gaussian, fields: [x], means: [-1], cov: [[1]], n_events: 800, seed: 2}}}}
params:
  cut_x: {{init: 0.0, bounds: [-3, 3]}}
nodes:
  - {{op: {cut}, for_each: samples, inputs: {{x: "{{sample}}.x", threshold: params.cut_x}}}}
  - {{op: histograms.count, for_each: samples, inputs: {{weight: "{short}[{{sample}}]"}}}}
  - {{op: metrics.asimov_significance, inputs: {{signal: "count[signal]", background: "count[background]"}}}}
  - {{op: arith.neg, inputs: {{x: asimov_significance}}}}
objective: neg.out
"""


def graph_file(tmp_path, cut="cuts.sigmoid"):
    path = tmp_path / "graph.yaml"
    path.write_text(GRAPH_FILE.format(cut=cut, short=cut.split(".")[1]))
    return path


def test_draw_writes_the_picture_without_measuring(graph, tmp_path):
    path, flow = draw(graph, tmp_path / "g.dot")
    assert flow is None and path.read_text().startswith("digraph")


def test_draw_measures_when_given_data(tmp_path):
    path, flow = draw(cut_graph(), tmp_path / "g.dot", data=toy_data())
    assert flow.param_norms["cut_x"] > 0
    assert "|grad| = " in path.read_text()


def test_command_draws_a_graph_file(tmp_path, capsys):
    assert main([str(graph_file(tmp_path)), "-o", str(tmp_path / "out.svg")]) == 0
    assert (tmp_path / "out.svg").read_text().lstrip().startswith("<")
    assert "wrote" in capsys.readouterr().out


def test_command_warns_of_a_blocked_parameter_and_measures_zero(tmp_path, capsys):
    code = main([str(graph_file(tmp_path, "cuts.step")), "-o", str(tmp_path / "out.mmd"), "--gradients",
                 "--collapse-samples"])
    err = capsys.readouterr().err
    assert code == 0
    assert "parameter 'cut_x' gets no gradient" in err and "cuts.sigmoid" in err
    assert "measured gradient is exactly zero" in err
    assert "step[*]" in (tmp_path / "out.mmd").read_text()


def test_command_rejects_an_unknown_suffix_showing_the_right_use(tmp_path, capsys):
    assert main([str(graph_file(tmp_path)), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "wrong:" in err and "right:" in err and "-o graph.svg" in err
    assert not (tmp_path / "out").exists()


def test_command_reports_a_missing_file(tmp_path, capsys):
    assert main([str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "out.svg")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
