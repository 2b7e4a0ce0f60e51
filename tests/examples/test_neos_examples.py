"""neos, the loss comparison and the scale run: each asserts the result it reports."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))

import loss_comparison  # noqa: E402
import neos  # noqa: E402
import resonance_scale  # noqa: E402


def test_neos_training_lowers_the_hard_cls_on_held_out_events():
    (result,) = neos.main(["--quick"])
    assert result["after"]["cls"] < 0.8 * result["before"]["cls"]
    assert result["history"][-1] < result["history"][0]


def test_systematics_aware_losses_beat_the_classifier_on_sigma_mu():
    results = {r["loss"]: r["after"] for r in loss_comparison.main(["--quick"])}
    assert results["inferno"]["sigma_mu"] < results["bce"]["sigma_mu"]
    assert results["cls"]["sigma_mu"] < results["bce"]["sigma_mu"]


def test_dask_and_in_process_runs_end_on_the_same_cuts(tmp_path):
    result = resonance_scale.main(["--quick", "--data", str(tmp_path)])
    assert result["max_rel_diff"] < 1e-6
    assert result["dask"]["hard_z"] > 0
