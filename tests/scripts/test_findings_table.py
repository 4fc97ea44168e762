"""scripts/findings_table.py: the rows on known numbers, and parents on further seeds read as one sample."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("findings_table", ROOT / "scripts" / "findings_table.py")
findings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(findings)


def test_the_rows_pair_the_model_with_its_control_seed_by_seed():
    children = [{"score/harmonic": h, "control/score/harmonic": c} for h, c in ((0.70, 0.72), (0.74, 0.75),
                                                                                   (0.78, 0.77))]
    lines = findings.table(children, "cirrhosis").splitlines()
    assert lines[0] == "| cirrhosis | harmonic |"
    assert lines[2] == "| model, mean ± 95 % CI (n = 3 seeds) | 0.740 ± 0.099 |"  # sd 0.04, t(2) = 4.303
    assert lines[3] == "| no-LLM control (`stats`, same release and split) | 0.747 ± 0.063 |"  # sd 0.0252
    assert lines[4] == "| lift = model − control, paired by seed | -0.007 ± 0.038 |"  # -0.02, -0.01, +0.01
    assert lines[5] == "| smallest lift this could detect | 0.047 |"  # (4.303 + 1.061) · 0.01528 / √3


def test_parents_on_disjoint_seeds_read_as_one_sample_and_others_are_refused(mlflow_store, capsys):
    from synllm_mlops.config import RunConfig
    from synllm_mlops.workflow import run_repeated

    def parent(seed: int, n_rows: int = 20) -> str:
        return run_repeated(RunConfig(backend="fake", model="fake", n_rows=n_rows, seed=seed, repeats=2,
                                      control_tables=1), progress=False).run_id

    first, later = parent(0), parent(2)
    findings.main(["--run-id", first, "--run-id", later])
    out = capsys.readouterr().out
    assert "seeds 0..3" in out
    assert "| model, mean ± 95 % CI (n = 4 seeds) |" in out
    assert "| no-LLM control (`stats`, same release and split) |" in out
    findings.main(["--run-id", later])
    assert "(n = 2 seeds)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="seed [23] is in run .* fix: pass parents on disjoint seeds"):
        findings.main(["--run-id", later, "--run-id", later])
    other = parent(4, n_rows=30)
    with pytest.raises(SystemExit, match=f"run {other} differs from run {first} in n_rows"):
        findings.main(["--run-id", first, "--run-id", other])


def test_a_seed_that_did_not_finish_is_skipped_so_it_can_be_rerun_under_a_new_parent(mlflow_store, capsys):
    import mlflow

    from synllm_mlops.config import RunConfig
    from synllm_mlops.workflow import run_repeated

    first = run_repeated(RunConfig(backend="fake", model="fake", n_rows=20, seed=0, repeats=2, control_tables=1),
                         progress=False).run_id
    client = mlflow.MlflowClient()
    exp = client.get_run(first).info.experiment_id
    seed1 = next(r for r in client.search_runs([exp], filter_string=f"tags.mlflow.parentRunId = '{first}'")
                 if r.data.params.get("seed") == "1")
    client.set_terminated(seed1.info.run_id, "KILLED")  # as if the session ended during seed 1
    rerun = run_repeated(RunConfig(backend="fake", model="fake", n_rows=20, seed=1, repeats=2, control_tables=1),
                         progress=False).run_id
    findings.main(["--run-id", first, "--run-id", rerun])
    captured = capsys.readouterr()
    assert f"skipped seed 1 of run {first}: its run is KILLED" in captured.err
    assert "seeds 0..2" in captured.out and "(n = 3 seeds)" in captured.out
