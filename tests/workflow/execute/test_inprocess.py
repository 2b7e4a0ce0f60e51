"""In-process executor: results do not depend on the chunking, and the program stays JAX."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from workflow.execute import Gaussian, InProcess, Sharded
from workflow.program import Prepared, Program

from execute_helpers import max_rel_diff


@pytest.fixture(scope="module")
def reference(graph, data):
    program = graph.compile()
    params = program.init_params()
    value, grad = program.value_and_grad(params, data)
    return params, value, grad


@pytest.mark.parametrize("chunk_size, n_chunks", [(1010, 1), (150, 7), (16, 64)])
def test_chunking_does_not_change_value_or_gradient(graph, data, reference, chunk_size, n_chunks):
    params, value, grad = reference
    executor = InProcess(chunk_size=chunk_size, budget=0)
    program = Program(graph, executor=executor)
    dataset = program.prepare(data)
    assert isinstance(dataset, Sharded)
    pieces = dataset.state["signal"].layout.pieces
    assert len(pieces) == n_chunks
    value_c, grad_c = program.value_and_grad(params, data)
    assert executor.last == {"signal": n_chunks, "background": n_chunks}
    assert abs(float(value_c) - float(value)) <= 1e-7 * abs(float(value))
    assert max_rel_diff(grad_c, grad) < 1e-5  # float32 network weights: float32 sums in one jit
    assert max_rel_diff(grad_c["cut_x"], grad["cut_x"]) < 1e-6
    assert jax.tree_util.tree_structure(grad_c) == jax.tree_util.tree_structure(grad)
    assert all(np.asarray(g).dtype == np.asarray(r).dtype for g, r in zip(jax.tree.leaves(grad_c), jax.tree.leaves(grad)))


def test_fits_budget_runs_in_one_jit(graph, data, reference):
    params, value, _ = reference
    program = Program(graph, executor=InProcess(budget=1 << 30))
    assert isinstance(program.prepare(data), Prepared)
    assert float(program.value(params, data)) == pytest.approx(float(value), rel=1e-12)


def test_hard_mode_and_user_jit_with_chunks(graph, data, reference):
    params, value, _ = reference
    whole = graph.compile()
    program = Program(graph, executor=InProcess(chunk_size=150, budget=0))
    assert float(program.evaluate(params, data, mode="hard")) == pytest.approx(
        float(whole.evaluate(params, data, mode="hard")), rel=1e-7)
    handle = program.prepare(data)
    assert float(jax.jit(program.value)(params, handle)) == pytest.approx(float(value), rel=1e-7)
    counts = program.evaluate(params, data, mode="soft", outputs=["kde_signal.counts"])["kde_signal.counts"]
    expected = whole.evaluate(params, data, mode="soft", outputs=["kde_signal.counts"])["kde_signal.counts"]
    np.testing.assert_allclose(counts, expected, rtol=1e-9)


def test_vmap_over_parameters_with_chunks(graph, data, reference):
    params, _, _ = reference
    program = Program(graph, executor=InProcess(chunk_size=300, budget=0))
    handle = program.prepare(data)
    cuts = jnp.array([-1.0, 0.0, 0.5])
    with jax.enable_x64(True):
        batched = jax.vmap(lambda c: program._soft_objective({**params, "cut_x": c}, handle))(cuts)
    single = [float(program.value({**params, "cut_x": c}, handle)) for c in np.asarray(cuts)]
    np.testing.assert_allclose(np.asarray(batched), single, rtol=1e-12)


def test_streaming_generator_source_equals_materialised_arrays(graph):
    sources = {s: Gaussian(means=[m, -m], cov=[[1, 0.2], [0.2, 1]], n_events=3000, seed=i, fields=["x", "y"],
                           scale=0.01, block=512)
               for i, (s, m) in enumerate([("signal", 1.0), ("background", -1.0)])}
    arrays = {}
    for s, src in sources.items():
        columns = src.read(src.pieces(10**9)[0], ["x", "y"])
        arrays[s] = {**columns, "weight": np.full(3000, 0.01, np.float32)}
    program = Program(graph, executor=InProcess(chunk_size=700, budget=0, keep=False))
    params = program.init_params()
    value, grad = program.value_and_grad(params, sources)
    value_ref, grad_ref = graph.compile().value_and_grad(params, arrays)
    assert float(value) == pytest.approx(float(value_ref), rel=1e-7)
    # float32 network gradients: one jit adds 3000 events in float32, chunks add in float64
    assert max_rel_diff(grad, grad_ref) < 1e-5
    assert float(jax.jit(program.value)(params, sources)) == pytest.approx(float(value_ref), rel=1e-7)


def test_parameter_independent_features_are_computed_once_per_chunk(graph, data):
    program = Program(graph, executor=InProcess(chunk_size=150, budget=0))
    handle = program.prepare(data)
    chunk = handle.state["signal"].chunks[0]
    assert any(k.startswith("stack[signal].") for k in chunk.values), sorted(chunk.values)
    assert "stack[signal]" in program.plan.cached["signal"]


def test_sum_rule_under_the_callers_jit_and_grad_equals_the_eager_call(graph, data):
    program = Program(graph, executor=InProcess(chunk_size=150, budget=0))
    params = program.init_params()
    handle = program.prepare(data)
    value, grad = program.value_and_grad(params, handle)  # top level: regions chained from Python
    with jax.enable_x64(True):
        traced_value, traced_grad = jax.jit(jax.value_and_grad(lambda p: program.value(p, handle)))(params)
    assert float(traced_value) == pytest.approx(float(value), rel=1e-12)
    assert max_rel_diff(traced_grad, grad) < 1e-6


def test_chunks_run_in_blocks_with_the_same_result(graph, data, reference, monkeypatch):
    import workflow.execute.kernel as kernel_module

    monkeypatch.setattr(kernel_module, "BLOCK", 64)
    params, value, grad = reference
    program = Program(graph, executor=InProcess(chunk_size=300, budget=0))
    handle = program.prepare(data)
    assert handle.kernel.block == 64 and handle.state["signal"].layout.length == 320  # 5 whole blocks
    value_b, grad_b = program.value_and_grad(params, handle)
    assert abs(float(value_b) - float(value)) <= 1e-7 * abs(float(value))
    assert max_rel_diff(grad_b, grad) < 1e-5
    assert max_rel_diff(grad_b["cut_x"], grad["cut_x"]) < 1e-6


def test_graph_compile_takes_an_executor(graph, data, reference):
    params, value, _ = reference
    program = graph.compile(executor=InProcess(chunk_size=500, budget=0))
    assert isinstance(program.prepare(data), Sharded)
    assert float(program.value(params, data)) == pytest.approx(float(value), rel=1e-7)
