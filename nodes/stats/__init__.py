"""Differentiable HistFactory statistics in JAX, equal to pyhf.

    workspace.py     pyhf JSON schema (pydantic), loading with JSON-path errors, export
    structure.py     the static model structure (ModelSpec) and the yields pytree
    layout.py        the dense, vectorised form of a model
    interpolation.py interpolation codes 0, 1, 4, 4p
    model.py         expected data and log-likelihood
    fits.py          fits with implicit (IFT) gradients
    inference.py     test statistics, asymptotic CLs, p0 and Z0
    fisher.py        Fisher information, covariance, sigma of the POI
    limits.py        upper limits by scanning CLs
    bound.py         HistFactoryModel: the pytree that flows between graph nodes
    graph_nodes.py   the stats.* node declarations

Statistics run in float64: call these under ``with jax.enable_x64(True):``.
"""
