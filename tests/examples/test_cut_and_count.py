"""The cut-and-count example runs and improves its hard significance."""

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "cut_and_count.py"


def test_example_improves_hard_significance(capsys):
    module = runpy.run_path(str(EXAMPLE))
    result = module["main"](["--steps", "150", "--events", "5000"])
    assert result["hard_after"] > result["hard_before"] * 1.1
    assert result["soft_after"] > result["soft_before"]
    printed = capsys.readouterr().out
    assert "optimised cuts:" in printed and "hard Z_A" in printed
