"""``diffdag cls`` prints what ``pyhf cls`` prints, and rejects bad workspaces with exit code 2."""

import json

import pytest
from stats_fixtures import WORKSPACES

from workflow.commands.cls import main


@pytest.fixture
def counting_file(tmp_path):
    path = tmp_path / "counting.json"
    path.write_text(json.dumps(WORKSPACES["counting"]()))
    return path


def test_output_has_pyhf_keys_and_values(counting_file, capsys, tight_pyhf):
    assert main([str(counting_file), "--test-poi", "1.0", "--test-stat", "qtilde"]) == 0
    ours = json.loads(capsys.readouterr().out)
    ws = tight_pyhf.Workspace(json.loads(counting_file.read_text()))
    model = ws.model(modifier_settings={"normsys": {"interpcode": "code4"}, "histosys": {"interpcode": "code4p"}})
    cls_obs, cls_exp = tight_pyhf.infer.hypotest(1.0, ws.data(model), model, test_stat="qtilde", return_expected_set=True)
    assert sorted(ours) == ["CLs_exp", "CLs_obs"]
    assert ours["CLs_obs"] == pytest.approx(float(cls_obs), rel=1e-5)
    assert ours["CLs_exp"] == pytest.approx([float(v) for v in cls_exp], rel=1e-5)


def test_invalid_workspace_exits_2_with_json_path_and_no_traceback(tmp_path, capsys):
    obj = WORKSPACES["counting"]()
    obj["channels"][0]["samples"][1]["modifiers"][0]["data"] = [3.0]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert "bad.json: $.channels[0].samples[1].modifiers[0].data: expected 2 values" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_malformed_json_exits_2(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{")
    assert main([str(path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_missing_file_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "absent.json")]) == 2
    assert "absent.json" in capsys.readouterr().err
