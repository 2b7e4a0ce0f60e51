"""pyhf workspaces: validation errors name the JSON path; export round-trips through pyhf."""

import json

import jax
import numpy as np
import pytest
from stats_fixtures import WORKSPACES, build

from nodes.stats import model as M
from nodes.stats.structure import read_yields
from nodes.stats.workspace import WorkspaceError, load_workspace, parse_workspace, to_pyhf_json, with_yields


def test_valid_workspace_parses_to_a_hashable_model():
    ws = parse_workspace(WORKSPACES["all_modifiers"]())
    assert hash(ws) == hash(parse_workspace(WORKSPACES["all_modifiers"]()))
    assert [c.name for c in ws.channels] == ["SR", "CR"]


def test_missing_normsys_value_names_its_json_path(all_modifiers_json):
    del all_modifiers_json["channels"][0]["samples"][0]["modifiers"][2]["data"]["hi"]
    with pytest.raises(WorkspaceError) as error:
        parse_workspace(all_modifiers_json, "ws.json")
    assert error.value.path == "$.channels[0].samples[0].modifiers[2].data.hi"
    assert str(error.value).startswith("ws.json: $.channels[0].samples[0].modifiers[2].data.hi: field required")


def test_unknown_modifier_type_names_path_and_found_value(all_modifiers_json):
    all_modifiers_json["channels"][1]["samples"][0]["modifiers"][0]["type"] = "lumy"
    with pytest.raises(WorkspaceError) as error:
        parse_workspace(all_modifiers_json)
    assert error.value.path == "$.channels[1].samples[0].modifiers[0]"
    assert "lumy" in str(error.value)


def test_wrong_number_of_bins_says_expected_and_found(all_modifiers_json):
    all_modifiers_json["channels"][0]["samples"][1]["modifiers"][1]["data"]["hi_data"] = [1.0, 2.0]
    with pytest.raises(WorkspaceError, match=r"hi_data: expected 3 values \(the sample's bins\), found 2") as error:
        parse_workspace(all_modifiers_json)
    assert error.value.path == "$.channels[0].samples[1].modifiers[1].data.hi_data"


def test_observation_of_unknown_length_is_reported(all_modifiers_json):
    all_modifiers_json["observations"][1]["data"] = [1.0]
    with pytest.raises(WorkspaceError, match=r"\$\.observations\[1\]\.data: expected 2 bins"):
        parse_workspace(all_modifiers_json)


def test_poi_that_is_no_modifier_is_reported(all_modifiers_json):
    all_modifiers_json["measurements"][0]["config"]["poi"] = "mu_sig"
    with pytest.raises(WorkspaceError, match=r"\$\.measurements\[0\]\.config\.poi: expected the name of a modifier, found 'mu_sig'"):
        parse_workspace(all_modifiers_json)


def test_malformed_json_file_names_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"channels": [}')
    with pytest.raises(WorkspaceError, match=r"broken.json: \$: not valid JSON: .* line 1 column 15"):
        load_workspace(path)


def test_unknown_measurement_lists_the_known_ones():
    ws = parse_workspace(WORKSPACES["all_modifiers"]())
    with pytest.raises(WorkspaceError, match="no measurement named 'other'; the workspace has 'meas'"):
        ws.measurement("other")


def test_export_is_a_valid_pyhf_workspace_with_the_same_likelihood(tight_pyhf):
    obj = WORKSPACES["all_modifiers"]()
    exported = to_pyhf_json(parse_workspace(obj))
    ws = tight_pyhf.Workspace(json.loads(json.dumps(exported)))  # pyhf validates its schema
    original = tight_pyhf.Workspace(obj)
    model, reference = ws.model(), original.model()
    pars = reference.config.suggested_init()
    assert model.logpdf(pars, ws.data(model))[0] == pytest.approx(reference.logpdf(pars, original.data(reference))[0], rel=1e-12)


def test_export_with_new_yields_carries_them_into_pyhf(tight_pyhf):
    obj = WORKSPACES["all_modifiers"]()
    ws = parse_workspace(obj)
    yields = jax.tree_util.tree_map(lambda a: np.asarray(a) * 1.25, read_yields(ws))
    exported = to_pyhf_json(with_yields(ws, yields))
    reference_ws = tight_pyhf.Workspace(exported)
    reference = reference_ws.model()
    with jax.enable_x64(True):
        spec, _, _ = build(obj)
        data = M.observed_data(spec, {o["name"]: o["data"] for o in obj["observations"]}, yields)
        ours = float(jax.jit(lambda p, d, y: M.logpdf(spec, p, d, y))(spec.suggested_init(), data, yields))
    assert ours == pytest.approx(float(reference.logpdf(reference.config.suggested_init(), reference_ws.data(reference))[0]), rel=1e-10)
