"""scripts/measure_end_trim.py: the variants of a seed post-process one noise draw, and the product RNG comes back."""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("measure_end_trim", ROOT / "scripts" / "measure_end_trim.py")
trim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trim)


def test_one_noise_draw_per_seed_and_the_release_is_restored_after(monkeypatch):
    monkeypatch.setattr(trim, "VARIANTS", {"none": (), "both": ("low", "high"), "again": ()})
    results = trim.measure(["cirrhosis"], seeds=2, n_rows=40)
    # "again" is "none" re-run: the same seeded noise gives the same release, table and scores, seed by seed
    assert results["cirrhosis/again"] == results["cirrhosis/none"]
    assert results["cirrhosis/both"] != results["cirrhosis/none"]  # the trim changes what the release samples
    assert trim.targets._trim_tails is trim._TRIM  # the release's own trim is back
    assert trim.mechanisms._RNG is trim._RNG and isinstance(trim._RNG, secrets.SystemRandom)  # the unseedable source
    table = trim.report(results)
    assert "| both − none |" in table and "## cirrhosis (n = 2 seeds" in table
