"""Values written in graph files: numbers, arrays, pytrees and named initialisers.

In a file a value is one of

- a number (``0.5``) or a list of numbers (``[0, 0.5, 1]``): a float64 array;
- ``{array: [[1, 2], [3, 4]], dtype: float32}``: an array of another dtype;
- ``{tree: {w: ..., b: ...}}`` or ``{tree: [..., ...]}``: a pytree whose leaves are values;
- (parameter inits only) ``{mlp: {sizes: [2, 32, 32, 1], seed: 0}}``: a registered
  initialiser, called with checked arguments. Files never name Python code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pydantic

RESERVED = ("array", "tree")


class ValueFormatError(ValueError):
    """A value in a file that is none of the accepted forms; ``path`` is relative to the value."""

    def __init__(self, message: str, path: tuple = ()):
        self.path = path
        super().__init__(message)


# -- named initialisers -----------------------------------------------------------------
@dataclass(frozen=True)
class Initialiser:
    name: str
    arguments: type[pydantic.BaseModel]
    make: Callable[..., Any]


INITIALISERS: dict[str, Initialiser] = {}


def register_initialiser(name: str, arguments: type[pydantic.BaseModel], make: Callable[..., Any]) -> None:
    """Let files write ``init: {NAME: {...arguments}}``; ``make(**arguments)`` returns the value."""
    if name in RESERVED:
        raise ValueError(f"{name!r} is reserved in value files")
    INITIALISERS[name] = Initialiser(name, arguments, make)


class _Arguments(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class MlpArguments(_Arguments):
    """Layer sizes (inputs, hidden..., outputs) and the seed of ``nodes.observables.init_mlp``."""

    sizes: list[pydantic.PositiveInt] = pydantic.Field(min_length=2)
    seed: int = 0


class ShapeArguments(_Arguments):
    """An array of one value: ``shape`` and ``value`` (0 by default)."""

    shape: list[pydantic.NonNegativeInt] = []
    value: float = 0.0
    dtype: str = "float64"


class NormalArguments(_Arguments):
    """Seeded normal draws: ``shape``, ``scale`` and ``seed``."""

    shape: list[pydantic.NonNegativeInt]
    scale: float = 1.0
    seed: int = 0
    dtype: str = "float64"


def _mlp(sizes, seed):
    from nodes.observables import init_mlp  # the node library's initialiser, looked up by name

    return init_mlp(sizes, seed)


register_initialiser("mlp", MlpArguments, _mlp)
register_initialiser("full", ShapeArguments,
                     lambda shape, value, dtype: np.full(shape, value, dtype=np.dtype(dtype)))
register_initialiser(
    "normal", NormalArguments,
    lambda shape, scale, seed, dtype: (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype))


# -- decoding ----------------------------------------------------------------------------
FORMS = "a number, a list of numbers, {array: LIST, dtype: NAME} or {tree: DICT-or-LIST}"


def decode_value(obj: Any, numbers_as_float: bool = True, path: tuple = ()) -> Any:
    """A file value as a numpy pytree; raises ValueFormatError naming the place inside it."""
    if isinstance(obj, bool):
        return np.asarray(obj)
    if isinstance(obj, (int, float)):
        return np.asarray(float(obj) if numbers_as_float else obj)
    if isinstance(obj, list):
        return _array(obj, "float64" if numbers_as_float else None, path)
    if isinstance(obj, dict):
        keys = set(obj)
        if "array" in keys and keys <= {"array", "dtype"}:
            return _array(obj["array"], obj.get("dtype"), path + ("array",))
        if keys == {"tree"}:
            return _tree(obj["tree"], numbers_as_float, path + ("tree",))
    raise ValueFormatError(f"expected {FORMS}; found {_describe(obj)}", path)


def decode_init(obj: Any) -> Any:
    """A parameter's init: a value, or ``{NAME: {arguments}}`` for a registered initialiser."""
    if isinstance(obj, dict) and len(obj) == 1 and next(iter(obj)) in INITIALISERS:
        name, arguments = next(iter(obj.items()))
        initialiser = INITIALISERS[name]
        try:
            checked = initialiser.arguments.model_validate(arguments or {})
        except pydantic.ValidationError as error:
            item = error.errors()[0]
            raise ValueFormatError(f"initialiser {name!r}: {item['msg']}",
                                   (name,) + tuple(item["loc"])) from None
        try:
            return initialiser.make(**checked.model_dump())
        except (ValueError, TypeError) as error:
            raise ValueFormatError(f"initialiser {name!r}: {error}", (name,)) from None
    try:
        return decode_value(obj)
    except ValueFormatError as error:
        if error.path == ():
            names = ", ".join(f"{{{n}: {{...}}}}" for n in INITIALISERS)
            raise ValueFormatError(f"expected {FORMS}, or an initialiser {names}; found {_describe(obj)}") from None
        raise


def _array(obj, dtype, path):
    try:
        array = np.asarray(obj, dtype=None if dtype is None else np.dtype(dtype))
    except TypeError:
        raise ValueFormatError(f"unknown dtype {dtype!r}; use float32, float64, int32, ...", path[:-1] + ("dtype",))
    except ValueError:
        raise ValueFormatError(f"expected a number or a rectangular list of numbers; found {_describe(obj)}",
                               path) from None
    if array.dtype == object or array.dtype.kind in "USV":
        raise ValueFormatError(f"expected numbers; found {_describe(obj)}", path)
    return array


def _tree(obj, numbers_as_float, path):
    if isinstance(obj, dict):
        return {str(k): decode_value(v, numbers_as_float, path + (k,)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_value(v, numbers_as_float, path + (i,)) for i, v in enumerate(obj)]
    raise ValueFormatError(f"tree: expected a mapping or a list of values; found {_describe(obj)}", path)


def _describe(obj) -> str:
    text = repr(obj)
    return f"{type(obj).__name__} {text if len(text) < 60 else text[:57] + '...'}"


# -- encoding ----------------------------------------------------------------------------
def encode_value(value: Any) -> Any:
    """The file form of a numpy pytree; ``decode_value(encode_value(v))`` has v's structure and values."""
    if isinstance(value, dict):
        return {"tree": {str(k): encode_value(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"tree": [encode_value(v) for v in value]}
    array = np.asarray(value)
    if array.dtype == np.float64 and array.ndim <= 1:
        return array.tolist()
    if array.dtype == np.float64 and array.ndim > 1 and array.size:
        return array.tolist()
    return {"array": array.tolist(), "dtype": str(array.dtype)}
