"""Fixtures of the stats tests (helpers live in stats_fixtures.py, a unique module name)."""

import copy

import pytest
from stats_fixtures import WORKSPACES, _all_modifiers_workspace, _counting_workspace


@pytest.fixture(params=sorted(WORKSPACES))
def workspace_json(request):
    return copy.deepcopy(WORKSPACES[request.param]())


@pytest.fixture
def all_modifiers_json():
    return _all_modifiers_workspace()


@pytest.fixture
def counting_json():
    return _counting_workspace()


@pytest.fixture(scope="session")
def tight_pyhf():
    """pyhf on numpy with a tight scipy fit (its default tolerance is only good to ~1e-5)."""
    pyhf = pytest.importorskip("pyhf")
    pyhf.set_backend("numpy", pyhf.optimize.scipy_optimizer(tolerance=1e-14))
    return pyhf
