"""Graph files and the Python DSL give equal graphs, and graphs dump to files that load back equal."""

import pytest
from spec_dsl_graphs import BUILDERS, GRAPHS

import workflow as wf
from nodes import cuts, histograms, observables
from workflow.spec import dump_graph, load_graph

FILES = sorted(GRAPHS.glob("*.yaml"))


def test_every_graph_file_has_a_dsl_twin():
    assert {f.stem for f in FILES} == set(BUILDERS)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_graph_file_loads_to_the_graph_the_dsl_builds(name):
    graph, _ = load_graph(GRAPHS / f"{name}.yaml")
    assert graph == BUILDERS[name]()


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_dsl_graph_dumps_to_a_file_that_loads_back_equal(name, suffix, tmp_path):
    original = BUILDERS[name]()
    path = dump_graph(original, tmp_path / f"{name}{suffix}")
    loaded, _ = load_graph(path)
    assert loaded == original


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_graph_file_dumps_with_its_settings_and_loads_back_equal(path, tmp_path):
    graph, settings = load_graph(path)
    again, again_settings = load_graph(dump_graph(graph, tmp_path / "copy.yaml", settings))
    assert again == graph
    assert (again_settings.sources, again_settings.optimizer, again_settings.run, again_settings.report) == (
        settings.sources, settings.optimizer, settings.run, settings.report)


def test_named_initialiser_is_written_back_as_written(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(
        "version: 1\nsamples: {s: {fields: {x: float32, y: float32}}}\n"
        "params: {net: {init: {mlp: {sizes: [2, 4, 1], seed: 3}}}}\n"
        "nodes:\n- {op: observables.stack, inputs: {record: s}, config: {fields: [x, y]}}\n"
        "- {op: observables.mlp, inputs: {params: params.net, x: 'stack[s]'}}\n")
    graph, settings = load_graph(path)
    copy = dump_graph(graph, tmp_path / "copy.yaml", settings)
    text = copy.read_text()
    assert "mlp:" in text and "seed: 3" in text and "tree" not in text
    assert load_graph(copy)[0] == graph


def test_mlp_initialiser_gives_the_node_librarys_weights(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("version: 1\nparams: {net: {init: {mlp: {sizes: [2, 3, 1], seed: 5}}}}\n")
    graph, _ = load_graph(path)
    assert graph.params["net"].same_as(wf.Param("net", wf.params.as_numpy_tree(observables.init_mlp([2, 3, 1], 5))))


def test_for_each_makes_one_node_per_sample_named_as_the_dsl_names_them(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(
        "version: 1\nsamples: {signal: {fields: {x: float32}}, background: {fields: {x: float32}}}\n"
        "params: {t: {init: 0.5}}\n"
        "nodes:\n- {op: cuts.sigmoid, for_each: samples, inputs: {x: '{sample}.x', threshold: params.t}}\n"
        "- {op: histograms.count, for_each: [signal, background], inputs: {weight: 'sigmoid[{sample}]'}}\n")
    graph, _ = load_graph(path)
    with wf.Graph("graph") as dsl:
        t = dsl.param("t", init=0.5)
        for sample in ("signal", "background"):
            histograms.count(cuts.sigmoid(dsl.source(sample, fields={"x": "float32"})["x"], t))
    assert graph == dsl
    assert set(graph.nodes) == {"sigmoid[signal]", "sigmoid[background]", "count[signal]", "count[background]"}


def test_constant_inputs_keep_their_dtype_through_a_dump(tmp_path):
    import numpy as np

    with wf.Graph("consts") as g:
        a = g.param("a", init=1.0)
        g.add_node("arith.mul", {"a": a, "b": np.float32(2.5)}, name="f32")
        g.add_node("arith.mul", {"a": a, "b": 3}, name="int")
        g.add_node("arith.add", {"a": a, "b": np.array([1.0, 2.0])}, name="vector")
    loaded, _ = load_graph(dump_graph(g, tmp_path / "c.yaml"))
    assert loaded == g
    assert loaded.nodes["f32"].inputs["b"].value.dtype == np.float32
    assert loaded.nodes["int"].inputs["b"].value.dtype.kind == "i"
