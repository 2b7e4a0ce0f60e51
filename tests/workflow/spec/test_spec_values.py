"""Values in graph files: numbers, arrays with dtypes, pytrees and named initialisers."""

import jax
import numpy as np
import pytest

from workflow.spec.values import ValueFormatError, decode_init, decode_value, encode_value


@pytest.mark.parametrize("value", [
    np.asarray(0.5), np.arange(3.0), np.ones((2, 2), np.float32), np.asarray(3, np.int32),
    {"w": np.zeros((2, 1), np.float32), "b": np.asarray(0.0)}, [np.asarray(1.0), {"k": np.arange(2.0)}],
])
def test_encoded_value_decodes_to_the_same_structure_dtype_and_numbers(value):
    back = decode_value(encode_value(value))
    a, ta = jax.tree_util.tree_flatten(value)
    b, tb = jax.tree_util.tree_flatten(back)
    assert ta == tb
    assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))


def test_numbers_and_lists_in_files_are_float64():
    assert decode_value(1).dtype == np.float64
    assert decode_value([1, 2]).dtype == np.float64


def test_ragged_list_is_reported_with_its_place_inside_the_value():
    with pytest.raises(ValueFormatError) as error:
        decode_value({"tree": {"w": [[1, 2], [3]]}})
    assert error.value.path == ("tree", "w")


def test_unknown_initialiser_lists_the_accepted_forms():
    with pytest.raises(ValueFormatError, match="initialiser {mlp"):
        decode_init({"xavier": {"sizes": [2, 1]}})


def test_initialiser_arguments_are_checked():
    with pytest.raises(ValueFormatError, match="initialiser 'mlp'") as error:
        decode_init({"mlp": {"sizes": [2, 1], "sed": 1}})
    assert error.value.path == ("mlp", "sed")
