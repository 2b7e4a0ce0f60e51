"""The ``stats.*`` graph nodes: build a HistFactory model from histograms, then infer.

Model builders output a ``HistFactoryModel`` (a pytree: static structure, dynamic yields):

- ``stats.simple_model``: fixed ports ``signal``, ``background`` and optional
  ``background_up``/``background_down`` -> one channel, signal x ``mu`` (normfactor),
  background with a ``histosys`` from up/down (the neos configuration).
- ``stats.histfactory``: any pyhf workspace as a template (config); the input ``yields``
  is a dict ``{"channel/sample": histogram}`` (or ``"channel/sample/type/name/key"`` for
  modifier data, e.g. ``"SR/bkg/histosys/jes/hi_data"``) replacing those template numbers.

Inference nodes take ``model`` and an optional ``observed`` histogram (main bins, channels
in sorted order). Without ``observed`` they use Asimov data of the nominal parameters:
background-only (mu = 0) for CLs and limits, signal-plus-background (mu = 1) for p0/Z0.
Statistics run in float64; the program scopes 64-bit mode to its calls.
"""

from __future__ import annotations

import functools
from typing import Literal

import jax.numpy as jnp
import pydantic

from nodes.stats import fisher, inference, limits
from nodes.stats.bound import HistFactoryModel
from nodes.stats.model import expected_data, nominal_auxdata, nominal_pars
from nodes.stats.structure import build_spec, read_yields
from nodes.stats.workspace import Workspace, parse_workspace
from workflow import Array, Histogram, NodeConfig, Pytree, Scalar, node


class SimpleModelConfig(NodeConfig):
    """Names in the one-channel signal/background model."""

    poi: str = "mu"
    systematic: str = "background_shape"


@functools.lru_cache(maxsize=32)
def _simple_template(nbins: int, with_shape: bool, poi: str, systematic: str) -> Workspace:
    background_modifiers = (
        [{"name": systematic, "type": "histosys", "data": {"hi_data": [1.0] * nbins, "lo_data": [1.0] * nbins}}] if with_shape else []
    )
    return parse_workspace({
        "channels": [{"name": "singlechannel", "samples": [
            {"name": "signal", "data": [1.0] * nbins, "modifiers": [{"name": poi, "type": "normfactor", "data": None}]},
            {"name": "background", "data": [1.0] * nbins, "modifiers": background_modifiers},
        ]}],
        "measurements": [{"name": "measurement", "config": {"poi": poi, "parameters": []}}],
    })


@node("stats.simple_model", kind="global",
      inputs={"signal": Histogram, "background": Histogram, "background_up": Histogram, "background_down": Histogram},
      outputs={"model": Pytree}, config=SimpleModelConfig)
def simple_model(signal, background, background_up=None, background_down=None, *, config: SimpleModelConfig):
    """One-channel model: signal x mu over background, with a histosys from up/down if given."""
    with_shape = background_up is not None and background_down is not None
    ws = _simple_template(int(signal.shape[0]), with_shape, config.poi, config.systematic)
    spec = build_spec(ws)
    as64 = lambda x: jnp.asarray(x, dtype=jnp.float64)
    background_entry = {"data": as64(background), "modifiers": {}}
    if with_shape:
        background_entry["modifiers"][f"histosys/{config.systematic}"] = {"hi_data": as64(background_up), "lo_data": as64(background_down)}
    yields = {"singlechannel": {"signal": {"data": as64(signal), "modifiers": {}}, "background": background_entry}}
    return HistFactoryModel(spec, yields)


class HistFactoryConfig(NodeConfig):
    """A pyhf workspace as template; which of its numbers come from the ``yields`` input."""

    template: Workspace
    measurement: str | None = None
    normsys_interpcode: Literal["code1", "code4"] = "code4"
    histosys_interpcode: Literal["code0", "code4p"] = "code4p"


def _set(tree: dict, key: str, value):
    parts = key.split("/")
    if len(parts) == 2:
        channel, sample = parts
        tree[channel][sample]["data"] = value
    elif len(parts) == 5:
        channel, sample, mtype, name, field = parts
        tree[channel][sample]["modifiers"][f"{mtype}/{name}"][field] = value
    elif len(parts) == 4:
        channel, sample, mtype, name = parts
        tree[channel][sample]["modifiers"][f"{mtype}/{name}"] = value
    else:
        raise KeyError(f"stats.histfactory: yields key {key!r} is not 'channel/sample' or 'channel/sample/type/name[/field]'")


@node("stats.histfactory", kind="global", inputs={"yields": Pytree}, outputs={"model": Pytree}, config=HistFactoryConfig)
def histfactory(yields, *, config: HistFactoryConfig):
    """Model from a workspace template whose listed numbers come from ``yields``."""
    settings = {"normsys": {"interpcode": config.normsys_interpcode}, "histosys": {"interpcode": config.histosys_interpcode}}
    spec = build_spec(config.template, config.measurement, settings)
    tree = read_yields(config.template)
    for key, value in (yields or {}).items():
        _set(tree, key, jnp.asarray(value, dtype=jnp.float64))
    return HistFactoryModel(spec, tree)


def _data(model: HistFactoryModel, observed, asimov_poi: float):
    spec, yields = model.spec, model.yields
    if observed is not None:
        return jnp.concatenate([jnp.asarray(observed, dtype=jnp.float64), nominal_auxdata(spec, yields)])
    return expected_data(spec, nominal_pars(spec, asimov_poi), yields)


class CLsConfig(NodeConfig):
    test_poi: float = 1.0
    test_stat: Literal["qtilde", "q"] = "qtilde"


@node("stats.cls", kind="global", inputs={"model": Pytree, "observed": Histogram},
      outputs={"cls": Scalar, "cls_expected": Array}, config=CLsConfig)
def cls(model, observed=None, *, config: CLsConfig):
    """Observed CLs and the expected band (-2..+2 sigma) at ``test_poi``."""
    result = inference.hypotest(model.spec, config.test_poi, _data(model, observed, 0.0), model.yields, config.test_stat)
    return {"cls": result["CLs_obs"], "cls_expected": result["CLs_exp"]}


@node("stats.cls_expected", kind="global", inputs={"model": Pytree}, outputs={"cls": Scalar}, config=CLsConfig)
def cls_expected(model, *, config: CLsConfig):
    """Median expected CLs: CLs on background-only Asimov data (the neos objective).

    Equal for ``q`` and ``qtilde`` (on this data q_obs = q_A); one fit instead of five.
    """
    return inference.expected_cls(model.spec, config.test_poi, model.yields)


@node("stats.p0", kind="global", inputs={"model": Pytree, "observed": Histogram}, outputs={"p0": Scalar})
def p0(model, observed=None, *, config):
    """Discovery p-value (q0); expected (Asimov mu = 1) without ``observed``."""
    return inference.discovery(model.spec, _data(model, observed, 1.0), model.yields)["p0"]


@node("stats.z0", kind="global", inputs={"model": Pytree, "observed": Histogram}, outputs={"z0": Scalar})
def z0(model, observed=None, *, config):
    """Discovery significance sqrt(q0); expected (Asimov mu = 1, one fit) without ``observed``."""
    if observed is None:
        return inference.expected_significance(model.spec, model.yields)
    return inference.discovery(model.spec, _data(model, observed, 1.0), model.yields)["Z0"]


class SigmaConfig(NodeConfig):
    poi: float = 1.0


@node("stats.sigma_mu", kind="global", inputs={"model": Pytree}, outputs={"sigma": Scalar}, config=SigmaConfig)
def sigma_mu(model, *, config: SigmaConfig):
    """Expected uncertainty of the POI from the Fisher information (the INFERNO loss)."""
    return fisher.sigma_poi(model.spec, model.yields, config.poi)


@node("stats.fisher", kind="global", inputs={"model": Pytree}, outputs={"information": Array, "covariance": Array}, config=SigmaConfig)
def fisher_matrix(model, *, config: SigmaConfig):
    """Fisher information matrix at the nominal parameters, and its inverse (the covariance)."""
    information = fisher.fisher_information(model.spec, model.yields, nominal_pars(model.spec, config.poi))
    return {"information": information, "covariance": fisher.covariance(model.spec, information)}


class UpperLimitConfig(NodeConfig):
    start: float = 0.0
    stop: float = 5.0
    points: int = pydantic.Field(21, ge=2)
    level: float = 0.05
    test_stat: Literal["qtilde", "q"] = "qtilde"


@node("stats.upper_limit", kind="global", inputs={"model": Pytree, "observed": Histogram},
      outputs={"observed_limit": Scalar, "expected_limits": Array}, config=UpperLimitConfig)
def upper_limit(model, observed=None, *, config: UpperLimitConfig):
    """Upper limit on the POI at CLs = level, by a grid scan and linear interpolation."""
    grid = tuple(float(v) for v in jnp.linspace(config.start, config.stop, config.points).tolist())
    data = _data(model, observed, 0.0)
    obs, exp = limits.upper_limit(model.spec, grid, data, model.yields, config.level, config.test_stat)
    return {"observed_limit": obs, "expected_limits": exp}
