"""The resonance cut optimisation reads its ROOT files back and matches the grid scan."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))

import resonance_cuts  # noqa: E402


def test_gradient_cuts_reach_the_grid_scan_optimum(tmp_path, capsys):
    result = resonance_cuts.main(["--quick", "--data", str(tmp_path)])
    assert (tmp_path / "signal.root").exists() and (tmp_path / "background.root").exists()
    assert result["z_gradient"] >= 0.98 * result["z_grid"]
    assert result["z_gradient"] > 1.5 * result["z_before"]
    assert result["gradient_evaluations"] < result["grid_evaluations"] / 10
    assert "gradient / grid significance" in capsys.readouterr().out
