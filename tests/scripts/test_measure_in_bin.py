"""scripts/measure_in_bin.py: the backends of a seed write on one release, and the per-column verdict is counted."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("measure_in_bin", ROOT / "scripts" / "measure_in_bin.py")
measure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(measure)


def test_both_backends_of_a_seed_share_one_prepare_and_the_columns_are_counted(monkeypatch, capsys, tmp_path):
    calls = []
    real_prepare = measure.prepare
    monkeypatch.setattr(measure, "prepare", lambda cfg: calls.append(cfg.seed) or real_prepare(cfg))
    monkeypatch.setattr(sys, "argv", ["measure_in_bin.py", "--backends", "stats", "fake", "--seeds", "0", "1",
                                      "--n-rows", "30", "--json", str(tmp_path / "b.json")])
    measure.main()
    out = capsys.readouterr().out
    assert calls == [0, 1]  # one release and split per seed, not one per backend (DP would redraw its noise)
    found = re.search(r"fake: within-bin KS no worse than stats's on (\d+) of (\d+) columns", out)
    assert found and int(found.group(2)) == 11 and 0 <= int(found.group(1)) <= 11  # cirrhosis' numeric columns
    rows = [line for line in out.splitlines() if line.startswith("| ") and "KS" not in line and "backend" not in line]
    assert len(rows) == 2 + 11  # a summary row per backend, a row per numeric column
    assert (tmp_path / "b.json").exists()
