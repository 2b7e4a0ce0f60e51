"""Dask executor: equal to in-process, works on a real `dask scheduler`, survives a dead worker."""

import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

from workflow.execute import Dask, ExecutorError, Gaussian, InProcess, SourceError  # noqa: E402
from workflow.execute.dask_executor import ONE_THREAD_XLA  # noqa: E402
from workflow.program import Program  # noqa: E402

from execute_helpers import max_rel_diff  # noqa: E402

CHUNK = 150  # 1010 events per sample: 7 chunks, the last one ragged


@pytest.fixture(scope="module")
def dask_executor():
    executor = Dask(workers=2, chunk_size=CHUNK, timeout=60)
    try:
        executor.client  # start the LocalCluster now
        yield executor
    finally:
        executor.close()


@pytest.fixture(scope="module")
def in_process(graph, data):
    program = Program(graph, executor=InProcess(chunk_size=CHUNK, budget=0))
    params = program.init_params()
    return params, *program.value_and_grad(params, data)


def test_workers_run_one_xla_thread(dask_executor):
    client = dask_executor.client
    assert set(client.run(lambda: os.environ.get("XLA_FLAGS")).values()) == {ONE_THREAD_XLA}
    assert set(client.nthreads().values()) == {1}


def test_value_and_gradient_equal_in_process(graph, data, dask_executor, in_process):
    params, value, grad = in_process
    program = Program(graph, executor=dask_executor)
    value_d, grad_d = program.value_and_grad(params, data)
    assert abs(float(value_d) - float(value)) <= 1e-6 * abs(float(value))
    assert max_rel_diff(grad_d, grad) <= 1e-6
    whole_value, whole_grad = graph.compile().value_and_grad(params, data)
    assert abs(float(value_d) - float(whole_value)) <= 1e-6 * abs(float(whole_value))
    assert max_rel_diff(grad_d["cut_x"], whole_grad["cut_x"]) <= 1e-6
    again, _ = program.value_and_grad(params, data)  # chunks stay on the workers
    assert float(again) == float(value_d)
    hard = program.evaluate(params, data, mode="hard")
    assert float(hard) == pytest.approx(float(graph.compile().evaluate(params, data, mode="hard")), rel=1e-6)


def test_generated_samples_never_pass_through_the_client(graph, dask_executor):
    sources = {s: Gaussian(means=[m, -m], cov=[[1, 0], [0, 1]], n_events=2000, seed=i, fields=["x", "y"],
                           scale=0.05)
               for i, (s, m) in enumerate([("signal", 1.0), ("background", -1.0)])}
    program = Program(graph, executor=dask_executor)
    params = program.init_params()
    value, grad = program.value_and_grad(params, sources)
    local = Program(graph, executor=InProcess(chunk_size=CHUNK, budget=0, keep=False))
    value_l, grad_l = local.value_and_grad(params, sources)
    assert abs(float(value) - float(value_l)) <= 1e-6 * abs(float(value_l))
    assert max_rel_diff(grad, grad_l) <= 1e-6


def test_bad_source_is_reported_from_the_worker(graph, data, dask_executor, tmp_path):
    from workflow.execute import Root

    program = Program(graph, executor=dask_executor)
    bad = {"signal": Root(paths=[str(tmp_path / "missing.root")], tree="events"), "background": data["background"]}
    with pytest.raises(SourceError, match=r"sample 'signal'.*missing\.root"):
        program.value(program.init_params(), bad)


def test_unreachable_scheduler_is_a_clear_error(graph, data):
    port = _free_port()
    program = Program(graph, executor=Dask(scheduler=f"tcp://127.0.0.1:{port}", timeout=3))
    with pytest.raises(ExecutorError, match=rf"cannot reach the Dask scheduler at 'tcp://127.0.0.1:{port}'"):
        program.value(program.init_params(), data)


def test_killed_worker_during_gradient_gives_the_same_result(graph, data, dask_executor, in_process):
    params, value, grad = in_process
    client = dask_executor.client
    killed = []

    def kill_one(stage, futures):
        if stage == "vjp" and not killed:
            pids = client.run(os.getpid)
            victim = sorted(pids)[0]
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    program = Program(graph, executor=dask_executor)
    program.prepare(data)
    dask_executor.on_submit = kill_one
    try:
        value_k, grad_k = program.value_and_grad(params, data)
    finally:
        dask_executor.on_submit = None
    assert killed
    assert float(value_k) == pytest.approx(float(value), rel=1e-6)
    assert max_rel_diff(grad_k, grad) <= 1e-6
    client.wait_for_workers(2, timeout=60)


# -- a real cluster: `dask scheduler` and two `dask worker` processes ------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def real_cluster():
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "XLA_FLAGS": ONE_THREAD_XLA}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--nworkers", "1", "--host", "127.0.0.1", "--dashboard-address", ":0"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_optimisation_step_on_a_real_cluster(graph, data, real_cluster, in_process):
    optax = pytest.importorskip("optax")
    params, value, grad = in_process
    executor = Dask(scheduler=real_cluster, chunk_size=CHUNK, timeout=60)
    try:
        executor.client.wait_for_workers(2, timeout=60)
        program = Program(graph, executor=executor)
        value_r, grad_r = program.value_and_grad(params, data)
        assert abs(float(value_r) - float(value)) <= 1e-6 * abs(float(value))
        assert max_rel_diff(grad_r, grad) <= 1e-6
        optimiser = optax.adam(1e-2)
        state = optimiser.init(params)
        updates, state = optimiser.update(grad_r, state, params)
        stepped = program.clip(optax.apply_updates(params, updates))
        local = Program(graph, executor=InProcess(chunk_size=CHUNK, budget=0))
        after, after_local = program.value(stepped, data), local.value(stepped, data)
        assert abs(float(after) - float(after_local)) <= 1e-6 * abs(float(after_local))
        assert float(after) < float(value_r)
    finally:
        executor.close()


def test_sum_rule_inside_the_callers_jit_on_dask(graph, data, dask_executor, in_process):
    import jax

    params, value, grad = in_process
    program = Program(graph, executor=dask_executor)
    handle = program.prepare(data)
    dask_executor.wait(handle)  # every chunk loaded on the workers
    with jax.enable_x64(True):
        traced_value, traced_grad = jax.jit(jax.value_and_grad(lambda p: program.value(p, handle)))(params)
    assert abs(float(traced_value) - float(value)) <= 1e-6 * abs(float(value))
    assert max_rel_diff(traced_grad, grad) <= 1e-6


def test_dask_sees_the_bytes_a_chunk_holds_so_tasks_stay_with_their_data():
    import numpy as np
    from dask.sizeof import sizeof

    from workflow.execute.chunks import Chunk

    chunk = Chunk("s", 0, {"x": np.ones(1000, np.float32)}, np.ones(1000), 1000)
    assert sizeof(chunk) >= 4000 + 8000
