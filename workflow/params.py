"""Parameters: the named, possibly bounded values an optimisation changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from workflow.types import PortType, type_of_value


def as_numpy_tree(value: Any) -> Any:
    """A parameter value as a pytree of numpy arrays; Python floats become float64."""
    return jax.tree_util.tree_map(np.asarray, value)


@dataclass(frozen=True, eq=False)
class Param:
    """A parameter: name, initial value (scalar, array or pytree), optional bounds, trainable or fixed.

    Bounds ``(low, high)`` apply to every leaf and are kept by projection: the optimiser
    steps freely and :meth:`clip` puts the value back inside.
    """

    name: str
    init: Any
    bounds: tuple[float, float] | None = None
    trainable: bool = True
    doc: str = ""

    @property
    def type(self) -> PortType:
        return type_of_value(self.init)

    def clip(self, value: Any) -> Any:
        if self.bounds is None:
            return value
        low, high = self.bounds
        return jax.tree_util.tree_map(lambda v: jnp.clip(v, low, high), value)

    def same_as(self, other: "Param") -> bool:
        """Equal declarations: same name, bounds, trainability and initial value."""
        if (self.name, self.bounds, self.trainable) != (other.name, other.bounds, other.trainable):
            return False
        mine, theirs = jax.tree_util.tree_flatten(self.init), jax.tree_util.tree_flatten(other.init)
        return mine[1] == theirs[1] and all(
            np.shape(a) == np.shape(b) and np.allclose(a, b, rtol=0, atol=0) for a, b in zip(mine[0], theirs[0])
        )
