"""Sources: files and generators read in pieces, checked against the declared fields."""

import numpy as np
import pydantic
import pytest

from workflow.errors import DataError
from workflow.execute import Arrays, Gaussian, InProcess, Npz, Parquet, Root, SourceError, sources
from workflow.execute.chunks import read_fields
from workflow.execute.sources import Piece, as_source
from workflow.program import Program

from execute_helpers import make_data

KDE = "kde_signal.counts"


def _counts(graph, data, executor=None):
    program = Program(graph, executor=executor)
    params = program.init_params()
    return np.asarray(program.evaluate(params, data, mode="soft", outputs=[KDE])[KDE])


def _write_root(path, columns):
    uproot = pytest.importorskip("uproot")
    with uproot.recreate(path) as f:  # a TTree (uproot 5.7 writes an RNTuple for f[name] = dict)
        f.mktree("events", {k: v.dtype for k, v in columns.items()})
        f["events"].extend(dict(columns))


@pytest.fixture(scope="module")
def arrays():
    return make_data(n=900, seed=11)


@pytest.fixture(scope="module")
def expected(graph, arrays):
    return _counts(graph, arrays)


def test_root_files_chunked_by_step_size_give_the_same_histogram(graph, arrays, expected, tmp_path):
    signal = arrays["signal"]
    halves = [{k: v[:500] for k, v in signal.items()}, {k: v[500:] for k, v in signal.items()}]
    paths = [str(tmp_path / f"signal_{i}.root") for i in range(2)]
    for path, columns in zip(paths, halves):
        _write_root(path, columns)
    for step in (128, "4 kB"):
        root = Root(paths=paths, tree="events", step_size=step)
        assert len(root.pieces(10**9)) > 2
        data = {"signal": root, "background": arrays["background"]}
        np.testing.assert_allclose(_counts(graph, data, InProcess(budget=0)), expected, rtol=1e-6)
        np.testing.assert_allclose(_counts(graph, data, InProcess()), expected, rtol=1e-6)


def test_root_branch_names_entry_range_and_weight_scaling(tmp_path):
    path = str(tmp_path / "s.root")
    x = np.arange(100, dtype=np.float32)
    _write_root(path, {"px": x, "w": np.full(100, 2.0, np.float64)})
    root = Root(paths=[path], tree="events", branches={"x": "px"}, entry_start=10, entry_stop=30,
                weight="w", lumi=3.0, scale=0.5, step_size=8)
    pieces = root.pieces(10**9)
    assert [(p.start, p.stop) for p in pieces] == [(10, 18), (18, 26), (26, 30)]
    out = read_fields("s", root, pieces[-1], {"x": "float32", "weight": "float32"})
    np.testing.assert_array_equal(out["x"], x[26:30])
    np.testing.assert_allclose(out["weight"], 3.0)
    assert out["weight"].dtype == np.float32


def test_npz_and_parquet_read_back(graph, arrays, expected, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    npz = tmp_path / "signal.npz"
    np.savez(npz, **arrays["signal"])
    table = pa.table(arrays["background"])
    pq.write_table(table.slice(0, 400), tmp_path / "b0.parquet", row_group_size=128)
    pq.write_table(table.slice(400), tmp_path / "b1.parquet", row_group_size=128)
    data = {"signal": Npz(path=str(npz)),
            "background": Parquet(paths=[str(tmp_path / "b0.parquet"), str(tmp_path / "b1.parquet")])}
    np.testing.assert_allclose(_counts(graph, data, InProcess(chunk_size=100, budget=0)), expected, rtol=1e-6)
    b = "kde_background.counts"
    program = Program(graph, executor=InProcess(chunk_size=100, budget=0))
    got = program.evaluate(program.init_params(), data, mode="soft", outputs=[b])[b]
    ref = graph.compile().evaluate(program.init_params(), arrays, mode="soft", outputs=[b])[b]
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_gaussian_events_do_not_depend_on_the_chunking():
    g = Gaussian(means=[1.0, -2.0], cov=[[2.0, 0.5], [0.5, 1.0]], n_events=5000, seed=4, fields=["a", "b"],
                 block=1000)
    whole = g.read(Piece(0, 0, 5000), ["a", "b"])
    parts = [g.read(p, ["a", "b"]) for p in g.pieces(333)]
    np.testing.assert_array_equal(np.concatenate([p["a"] for p in parts]), whole["a"])
    assert whole["a"].dtype == np.float32
    assert abs(np.mean(whole["b"]) + 2.0) < 0.1
    assert abs(np.cov(whole["a"], whole["b"])[0, 1] - 0.5) < 0.1


def test_sources_are_serialisable_with_a_kind():
    spec = {"kind": "root", "paths": ["a.root"], "tree": "t", "step_size": "50 MB", "lumi": 2.0}
    root = as_source(spec)
    assert isinstance(root, Root) and root.lumi == 2.0
    again = pydantic.TypeAdapter(sources.Source).validate_json(root.model_dump_json())
    assert again == root
    gauss = as_source({"kind": "gaussian", "means": [0, 1], "cov": [[1, 0], [0, 1]], "n_events": 10,
                       "fields": ["x", "y"]})
    assert isinstance(gauss, Gaussian)
    assert isinstance(as_source({"x": np.zeros(3)}), Arrays)
    with pytest.raises(pydantic.ValidationError):
        as_source({"kind": "gaussian", "means": [0], "cov": [[1, 0], [0, 1]], "n_events": 1, "fields": ["x"]})


# -- bad input ----------------------------------------------------------------------------


def _program(graph):
    return Program(graph, executor=InProcess(budget=0))


def test_missing_file_names_sample_and_file(graph, arrays, tmp_path):
    missing = str(tmp_path / "nope.root")
    data = {"signal": Root(paths=[missing], tree="events"), "background": arrays["background"]}
    program = _program(graph)
    with pytest.raises(SourceError, match=r"sample 'signal'.*nope\.root.*does not exist"):
        program.value(program.init_params(), data)
    with pytest.raises(DataError, match="sample 'background'"):
        program.value(program.init_params(), {"signal": arrays["signal"],
                                              "background": Npz(path=str(tmp_path / "b.npz"))})


def test_missing_branch_names_sample_file_and_field(graph, arrays, tmp_path):
    path = str(tmp_path / "s.root")
    _write_root(path, {k: v for k, v in arrays["signal"].items() if k != "y"})
    program = _program(graph)
    data = {"signal": Root(paths=[path], tree="events"), "background": arrays["background"]}
    with pytest.raises(SourceError, match=r"sample 'signal', file '.*s\.root': no branch 'y'"):
        program.value(program.init_params(), data)


def test_wrong_dtype_names_sample_file_field_and_both_dtypes(graph, arrays, tmp_path):
    path = str(tmp_path / "s.root")
    _write_root(path, {**arrays["signal"], "x": arrays["signal"]["x"].astype(np.float64)})
    program = _program(graph)
    data = {"signal": Root(paths=[path], tree="events"), "background": arrays["background"]}
    with pytest.raises(SourceError, match=r"sample 'signal', file '.*s\.root', field 'x': "
                                          r"expected dtype float32, found float64"):
        program.value(program.init_params(), data)
    bad = {**arrays["background"], "y": arrays["background"]["y"].astype(np.int32)}
    with pytest.raises(SourceError, match=r"sample 'background', file '<memory>', field 'y'"):
        program.value(program.init_params(), {"signal": arrays["signal"], "background": Arrays(data=bad)})


def test_scaling_without_a_weight_field_is_an_error(graph, arrays):
    from workflow.execute.chunks import check_source

    with pytest.raises(SourceError, match="declares no field 'weight'"):
        check_source("signal", Arrays(data=arrays["signal"], lumi=2.0), {"x": "float32"})
