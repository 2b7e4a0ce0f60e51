"""A model value that flows through a graph: static structure plus dynamic yields.

``HistFactoryModel`` is a JAX pytree whose only leaves are the yields; the ``ModelSpec``
rides in the tree definition, so jit treats it as static and a new set of yields reuses
the compiled function.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from nodes.stats.structure import ModelSpec, build_spec, read_observations, read_yields
from nodes.stats.workspace import Workspace


@jax.tree_util.register_pytree_node_class
@dataclass(frozen=True)
class HistFactoryModel:
    spec: ModelSpec
    yields: dict

    def tree_flatten(self):
        return (self.yields,), self.spec

    @classmethod
    def tree_unflatten(cls, spec, children):
        return cls(spec, children[0])


def model_from_workspace(ws: Workspace, measurement: str | None = None, modifier_settings: dict | None = None):
    """(model, observed data) for a workspace, as pyhf's ``ws.model()`` and ``ws.data(model)``."""
    from nodes.stats.model import observed_data

    spec = build_spec(ws, measurement, modifier_settings)
    yields = jax.tree_util.tree_map(jnp.asarray, read_yields(ws))
    data = observed_data(spec, read_observations(ws), yields) if ws.observations else None
    return HistFactoryModel(spec, yields), data
