"""The optax optimiser a graph file names: an allowed optimiser, a learning rate or schedule, clipping."""

from __future__ import annotations

import inspect

import optax

from workflow.spec.schema import OptimizerEntry


def make_optimizer(entry: OptimizerEntry) -> optax.GradientTransformation:
    """``optax.<name>(learning_rate, **settings)``, chained after gradient clipping when asked.

    Raises ValueError naming the setting that the optax function does not take.
    """
    learning_rate = entry.learning_rate
    if not isinstance(learning_rate, float):
        schedule = getattr(optax, learning_rate.schedule)
        _check_arguments(schedule, learning_rate.settings, f"schedule {learning_rate.schedule}")
        learning_rate = schedule(**learning_rate.settings)
    factory = getattr(optax, entry.name)
    _check_arguments(factory, entry.settings, f"optimizer {entry.name}")
    optimizer = factory(learning_rate=learning_rate, **entry.settings)
    if entry.clip_norm is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(entry.clip_norm), optimizer)
    return optimizer


def _check_arguments(function, settings: dict, what: str) -> None:
    parameters = inspect.signature(function).parameters
    accepted = [p for p in parameters if p != "learning_rate"]
    unknown = [k for k in settings if k not in accepted]
    if unknown:
        raise ValueError(f"{what} has no setting {', '.join(map(repr, unknown))}; it takes {', '.join(accepted)}")
    required = [p for p, v in parameters.items() if v.default is inspect.Parameter.empty
                and v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY) and p != "learning_rate" and p not in settings]
    if required:
        raise ValueError(f"{what} needs {', '.join(map(repr, required))} in its settings")
