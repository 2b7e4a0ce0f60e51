"""Bad graph files raise SpecError naming the file, the line and the JSON path; nothing runs."""

import json

import pytest

from workflow.spec import SpecError, load_graph

GOOD = """version: 1
samples:
  s: {fields: {x: float32}}
params:
  t: {init: 0.5}
nodes:
  - {op: cuts.sigmoid, inputs: {x: s.x, threshold: params.t}}
  - {op: histograms.count, inputs: {weight: 'sigmoid[s]'}}
objective: 'count[s]'
"""


def load_text(tmp_path, text, name="g.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return load_graph(path)


def test_good_file_loads(tmp_path):
    graph, _ = load_text(tmp_path, GOOD)
    assert str(graph.objective) == "count[s].count"


def test_schema_error_names_line_and_json_path(tmp_path):
    with pytest.raises(SpecError, match=r"g\.yaml, line 7 \(nodes\[0\]\.inputz\): unknown key 'inputz'"):
        load_text(tmp_path, GOOD.replace("inputs: {x: s.x", "inputz: {x: s.x"))


def test_union_alternatives_do_not_appear_in_the_path(tmp_path):
    text = GOOD + "optimizer: {learning_rate: fast}\n"
    with pytest.raises(SpecError) as error:
        load_text(tmp_path, text)
    assert "(optimizer.learning_rate)" in str(error.value)
    assert "ScheduleEntry" not in str(error.value).split(":")[1]


def test_json_file_errors_name_the_line_and_json_path(tmp_path):
    import yaml

    data = yaml.safe_load(GOOD)
    data["params"]["t"] = {"bounds": [0, 1]}
    with pytest.raises(SpecError, match=r"g\.json, line \d+ \(params\.t\.init\): 'init' is required"):
        load_text(tmp_path, json.dumps(data, indent=1), "g.json")


def test_malformed_json_names_line_and_column(tmp_path):
    with pytest.raises(SpecError, match=r"g\.json, line 2, column \d+: malformed JSON"):
        load_text(tmp_path, '{"version": 1,\n "samples": }', "g.json")


def test_python_tags_are_refused_not_run(tmp_path):
    marker = tmp_path / "ran"
    text = GOOD + f"name: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(SpecError, match="malformed YAML"):
        load_text(tmp_path, text)
    assert not marker.exists()


def test_unknown_op_is_an_error_not_an_import(tmp_path):
    with pytest.raises(SpecError, match=r"line 7 \(nodes\[0\]\.op\).*unknown op 'os\.system'"):
        load_text(tmp_path, GOOD.replace("op: cuts.sigmoid", "op: os.system"))


def test_sample_placeholder_without_for_each_is_an_error(tmp_path):
    with pytest.raises(SpecError, match=r"line 7 \(nodes\[0\]\): uses '\{sample\}' but has no for_each"):
        load_text(tmp_path, GOOD.replace("x: s.x", "x: '{sample}.x'"))


def test_for_each_of_an_unknown_sample_is_an_error(tmp_path):
    with pytest.raises(SpecError, match=r"nodes\[0\]\.for_each\): unknown samples \['b'\]"):
        load_text(tmp_path, GOOD.replace("{op: cuts.sigmoid,", "{op: cuts.sigmoid, for_each: [b],"))


def test_optimizer_setting_optax_does_not_take_is_an_error(tmp_path):
    with pytest.raises(SpecError, match=r"\(optimizer\): optimizer adam has no setting 'beta'"):
        load_text(tmp_path, GOOD + "optimizer: {name: adam, settings: {beta: 0.9}}\n")


def test_yaml_exponent_without_dot_reads_as_a_number(tmp_path):
    _, settings = load_text(tmp_path, GOOD + "optimizer: {learning_rate: 1e-3}\n")
    assert settings.optimizer.learning_rate == 0.001


def test_report_naming_a_missing_output_is_an_error(tmp_path):
    with pytest.raises(SpecError, match=r"\(report\.summary\.Z\): 'nothing\.here' is not an output"):
        load_text(tmp_path, GOOD + "report: {summary: {Z: nothing.here}}\n")
