"""Shared helpers of the stats tests: workspaces covering every modifier type, model building."""




def _all_modifiers_workspace():
    """Two channels, every modifier type, a zero-yield bin (fixed staterror/shapesys gammas)."""
    return {
        "channels": [
            {
                "name": "SR",
                "samples": [
                    {
                        "name": "signal",
                        "data": [6.0, 11.0, 0.0],
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            {"name": "lumi", "type": "lumi", "data": None},
                            {"name": "sig_xsec", "type": "normsys", "data": {"hi": 1.1, "lo": 0.85}},
                            {"name": "staterror_SR", "type": "staterror", "data": [0.5, 0.9, 0.0]},
                        ],
                    },
                    {
                        "name": "background",
                        "data": [52.0, 61.0, 0.0],
                        "modifiers": [
                            {"name": "lumi", "type": "lumi", "data": None},
                            {"name": "jes", "type": "histosys", "data": {"hi_data": [55.0, 63.0, 0.0], "lo_data": [50.0, 57.5, 0.0]}},
                            {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1.05, "lo": 0.93}},
                            {"name": "staterror_SR", "type": "staterror", "data": [2.0, 2.5, 0.0]},
                            {"name": "bkg_unc", "type": "shapesys", "data": [4.0, 5.5, 0.0]},
                        ],
                    },
                ],
            },
            {
                "name": "CR",
                "samples": [
                    {
                        "name": "background",
                        "data": [100.0, 120.0],
                        "modifiers": [
                            {"name": "lumi", "type": "lumi", "data": None},
                            {"name": "sf_CR", "type": "shapefactor", "data": None},
                            {"name": "bkg_norm", "type": "normsys", "data": {"hi": 1.05, "lo": 0.93}},
                        ],
                    },
                    {
                        "name": "ttbar",
                        "data": [20.0, 25.0],
                        "modifiers": [
                            {"name": "jes", "type": "histosys", "data": {"hi_data": [22.0, 26.0], "lo_data": [19.0, 23.0]}},
                            {"name": "staterror_CR", "type": "staterror", "data": [1.5, 2.0]},
                        ],
                    },
                ],
            },
        ],
        "observations": [{"name": "SR", "data": [64.0, 70.0, 0.0]}, {"name": "CR", "data": [118.0, 150.0]}],
        "measurements": [
            {
                "name": "meas",
                "config": {
                    "poi": "mu",
                    "parameters": [
                        {"name": "lumi", "auxdata": [1.0], "sigmas": [0.02], "bounds": [[0.5, 1.5]], "inits": [1.0]},
                    ],
                },
            }
        ],
        "version": "1.0.0",
    }


def _counting_workspace(nbins=2, signal=(12.0, 11.0), background=(50.0, 52.0), unc=(3.0, 7.0), observed=(51.0, 48.0)):
    """pyhf's uncorrelated-background model: signal x mu over background with shapesys."""
    return {
        "channels": [{"name": "singlechannel", "samples": [
            {"name": "signal", "data": list(signal), "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
            {"name": "background", "data": list(background), "modifiers": [
                {"name": "uncorr_bkguncrt", "type": "shapesys", "data": list(unc)}]},
        ]}],
        "observations": [{"name": "singlechannel", "data": list(observed)}],
        "measurements": [{"name": "m", "config": {"poi": "mu", "parameters": []}}],
        "version": "1.0.0",
    }


WORKSPACES = {
    "all_modifiers": _all_modifiers_workspace,
    "counting": _counting_workspace,
}
INTERPCODES = [("code4", "code4p"), ("code1", "code0")]


def pyhf_settings(normsys, histosys):
    return {"normsys": {"interpcode": normsys}, "histosys": {"interpcode": histosys}}


def build(obj, normsys="code4", histosys="code4p"):
    """(spec, yields, data) of a workspace JSON object, in float64 (call under enable_x64)."""
    import jax
    import jax.numpy as jnp

    from nodes.stats.bound import model_from_workspace
    from nodes.stats.workspace import parse_workspace

    model, data = model_from_workspace(parse_workspace(obj), modifier_settings=pyhf_settings(normsys, histosys))
    return model.spec, jax.tree_util.tree_map(jnp.asarray, model.yields), data


def perturbed(yields, path, index, step):
    """A copy of a yields pytree with one number moved by ``step``."""
    import jax
    import numpy as np

    copy_ = jax.tree_util.tree_map(lambda a: np.array(a, dtype=np.float64), yields)
    node = copy_
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = np.array(node[path[-1]], dtype=np.float64)
    node[path[-1]][index] += step
    return copy_


def leaf(tree, path):
    for key in path:
        tree = tree[key]
    return tree
