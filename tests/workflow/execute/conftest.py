"""Fixtures of the execute tests."""

import pytest
from execute_helpers import build_graph, make_data


@pytest.fixture(scope="module")
def graph():
    return build_graph()


@pytest.fixture(scope="module")
def data():
    return make_data()
