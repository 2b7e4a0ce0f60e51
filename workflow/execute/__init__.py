"""Sharded execution: sources read in chunks, run in-process or on Dask, with exact gradients.

    from workflow.execute import Dask, InProcess, sources
    program = Program(graph, executor=Dask(workers=2))
    program.value_and_grad(params, {"signal": sources.Gaussian(...), ...})
"""

from workflow.execute import sources
from workflow.execute.inprocess import InProcess
from workflow.execute.sources import Arrays, Gaussian, Npz, Parquet, Root, Source, SourceError
from workflow.execute.sum_rule import Sharded


def __getattr__(name):  # Dask needs `distributed`; import it only when asked for
    if name in ("Dask", "ExecutorError"):
        from workflow.execute import dask_executor

        return getattr(dask_executor, name)
    raise AttributeError(name)


__all__ = ["Arrays", "Dask", "ExecutorError", "Gaussian", "InProcess", "Npz", "Parquet", "Root",
           "Sharded", "Source", "SourceError", "sources"]
