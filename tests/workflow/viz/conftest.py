"""Fixtures: a soft cut-and-histogram graph and its toy data (builders in viz_cases.py)."""

import pytest
from viz_cases import cut_graph, toy_data


@pytest.fixture
def graph():
    return cut_graph()


@pytest.fixture
def data():
    return toy_data()
