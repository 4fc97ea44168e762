"""The grid runner end to end on the fake backend, into a temporary MLflow store."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner

from synllm_mlops.compare import load_grid, run_compare
from synllm_mlops.errors import ModelLoadError
from synllm_mlops.generation._fake import FakeBackend
from synllm_mlops.spec import load_spec


class CountingFactory:
    """Fake backends per model x dataset; counts generate batches; can fail chosen models or strategies."""

    def __init__(self, *, unavailable=(), raise_on=None):
        self.backends, self.unavailable, self.raise_on = {}, set(unavailable), raise_on

    def __call__(self, cfg):
        if cfg.model in self.unavailable:
            raise ModelLoadError(f"model {cfg.model!r} is not available on this machine")
        key = (cfg.model, cfg.dataset)
        if key not in self.backends:
            self.backends[key] = _Failing(spec=load_spec(cfg.dataset), raise_on=self.raise_on)
        return self.backends[key]

    @property
    def calls(self) -> int:
        return sum(b.calls for b in self.backends.values())


class _Failing(FakeBackend):
    def __init__(self, *, spec, raise_on):
        super().__init__(spec=spec)
        self.raise_on = raise_on

    def _generate_batch(self, prompt, *args):
        if self.raise_on is not None and self.raise_on(prompt):
            raise self.raise_on.error
        return super()._generate_batch(prompt, *args)


def _children(parent_id: str) -> list:
    return mlflow.search_runs(experiment_names=["synllm-test"], output_format="list",
                              filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'")


def _artifacts(run_id: str, folder: str) -> set[str]:
    return {f.path for f in mlflow.MlflowClient().list_artifacts(run_id, folder)}


def test_grid_runs_and_logs_parent_artifacts(mlflow_store, grid_yaml, fast_eval):
    factory = CountingFactory()
    out = run_compare(grid_yaml(), backend_factory=factory, progress=False)
    assert out.counts == {"ran": 8, "skipped": 0, "failed": 0}
    parent = mlflow.get_run(out.run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["synllm.stage"] == "compare"
    assert parent.data.metrics["compare/cells_ran"] == 8
    assert _artifacts(out.run_id, "compare") >= {"compare/leaderboard.csv", "compare/leaderboard.html",
                                                 "compare/cells.csv", "compare/grid.json"}
    assert _artifacts(out.run_id, "plots") == {"plots/harmonic_heatmap.png", "plots/privacy_vs_quality.png"}
    kids = _children(out.run_id)
    assert len(kids) == 8 and {k.info.status for k in kids} == {"FINISHED"}
    assert {k.data.tags["synllm.stage"] for k in kids} == {"main"}
    assert len({k.data.tags["synllm.cell_hash"] for k in kids}) == 8
    # known answers from fast_eval: quality 0.5 / 0.6 for seeds 0 / 1 -> mean 0.55, t(1) * 0.05 = 0.635310
    board = out.leaderboard
    assert len(board) == 4 and set(board["n_cells"]) == {2}
    assert board["score/quality_mean"].tolist() == pytest.approx([0.55] * 4)
    assert board["score/quality_ci95"].tolist() == pytest.approx([0.635310] * 4, abs=1e-5)
    assert board["gen/validity_rate_mean"].tolist() == pytest.approx([1.0] * 4)


def test_rerun_skips_finished_cells_and_resumes(mlflow_store, grid_yaml, fast_eval):
    first = CountingFactory()
    run_compare(grid_yaml(seeds=[0]), backend_factory=first, progress=False)
    assert first.calls > 0
    again = CountingFactory()
    out = run_compare(grid_yaml(seeds=[0]), backend_factory=again, progress=False)
    assert again.calls == 0 and out.counts == {"ran": 0, "skipped": 4, "failed": 0}
    assert len(out.leaderboard) == 4 and set(out.leaderboard["n_cells"]) == {1}  # old cells still count
    wider = CountingFactory()  # a grown grid (after an interruption, or with more seeds) runs only new cells
    out = run_compare(grid_yaml(seeds=[0, 1]), backend_factory=wider, progress=False)
    assert out.counts == {"ran": 4, "skipped": 4, "failed": 0}
    assert set(out.leaderboard["n_cells"]) == {2}


def test_failed_cells_are_recorded_and_the_grid_goes_on(mlflow_store, grid_yaml, fast_eval):
    def raise_on(prompt):
        return prompt.strategy == "clin_rule"
    raise_on.error = RuntimeError("CUDA out of memory (simulated)")
    factory = CountingFactory(unavailable={"fake-b"}, raise_on=raise_on)
    out = run_compare(grid_yaml(), backend_factory=factory, progress=False)
    assert out.counts == {"ran": 2, "skipped": 0, "failed": 6}
    kids = {k.info.run_name: k for k in _children(out.run_id)}
    assert len(kids) == 8  # one run per cell: a failure inside a run is not recorded twice
    crashed = kids["fake-a-cirrhosis-clin_rule-s0"]
    assert crashed.info.status == "FAILED"
    assert "CUDA out of memory (simulated)" in crashed.data.tags["synllm.cell_error"]
    assert "Traceback" in mlflow.artifacts.load_text(f"runs:/{crashed.info.run_id}/error.txt")
    missing = kids["fake-b-cirrhosis-featdesc-s1"]
    assert missing.info.status == "FAILED" and missing.data.tags["synllm.cell_skipped"] == "model not available"
    assert "not available on this machine" in missing.data.tags["synllm.cell_error"]
    assert missing.data.params["model"] == "fake-b"
    assert kids["fake-a-cirrhosis-featdesc-s0"].info.status == "FINISHED"
    board = out.leaderboard.set_index(["model", "strategy"])
    assert board.loc[("fake-b", "featdesc"), "n_failed"] == 2 and board.loc[("fake-b", "featdesc"), "n_cells"] == 0
    assert mlflow.get_run(out.run_id).info.status == "FINISHED"
    # failed cells are not "finished": a re-run retries exactly those
    retry = CountingFactory()
    out = run_compare(grid_yaml(), backend_factory=retry, progress=False)
    assert out.counts == {"ran": 6, "skipped": 2, "failed": 0}


def test_ctrl_c_kills_parent_and_keeps_finished_cells(mlflow_store, grid_yaml, fast_eval):
    def raise_on(prompt):
        return prompt.strategy == "clin_rule"
    raise_on.error = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        run_compare(grid_yaml(), backend_factory=CountingFactory(raise_on=raise_on), progress=False)
    parent = mlflow.search_runs(experiment_names=["synllm-test"], output_format="list",
                                filter_string="tags.`synllm.stage` = 'compare'")[0]
    assert parent.info.status == "KILLED"
    kids = {k.info.run_name: k.info.status for k in _children(parent.info.run_id)}
    assert kids == {"fake-a-cirrhosis-featdesc-s0": "FINISHED", "fake-a-cirrhosis-featdesc-s1": "FINISHED",
                    "fake-a-cirrhosis-clin_rule-s0": "KILLED"}
    assert "compare/leaderboard.csv" in _artifacts(parent.info.run_id, "compare")
    cells = mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/compare/cells.csv")
    assert cells.count("FINISHED") == 2 and cells.count("KILLED") == 1
    out = run_compare(grid_yaml(), backend_factory=CountingFactory(), progress=False)
    assert out.counts == {"ran": 6, "skipped": 2, "failed": 0}


def test_cli_compare(mlflow_store, grid_yaml, fast_eval):
    from synllm_mlops.cli import cli

    path = grid_yaml(models=["fake-a"], strategies=["clin_rule"], seeds=[0])
    res = CliRunner().invoke(cli, ["compare", "--config", path])
    assert res.exit_code == 0, res.output
    assert "1 cells ran, 0 already finished, 0 failed" in res.output
    res = CliRunner().invoke(cli, ["compare", "--config", path + ".missing"])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_real_evaluation_metrics_reach_the_leaderboard(mlflow_store, grid_yaml):
    """One cell with the real evaluation (slow part: its figures): the metric names line up."""
    out = run_compare(grid_yaml(models=["fake-a"], strategies=["clin_rule"], seeds=[0], n_rows=12), progress=False)
    assert out.counts["ran"] == 1
    row = out.leaderboard.iloc[0]
    for m in ("score/quality", "score/privacy", "score/harmonic", "gen/validity_rate"):
        assert 0.0 <= row[f"{m}_mean"] <= 1.0, m


def test_vllm_grid_without_vllm_fails_before_any_run(mlflow_store, grid_yaml, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ModelLoadError, match="vllm is not installed"):
        run_compare(grid_yaml(backend="vllm"), progress=False)
    assert mlflow.search_runs(experiment_names=["synllm-test"], output_format="list") == []


def test_an_edited_csv_reruns_its_cells_and_only_those(mlflow_store, grid_yaml, fast_eval, small_csv):
    from synllm_mlops.spec import infer_spec

    spec_path = small_csv.with_suffix(".yaml")
    spec_path.write_text(infer_spec(small_csv, name="mytable", target="outcome").to_yaml())
    path = grid_yaml(models=["fake-a"], strategies=["clin_rule"], seeds=[0],
                     datasets=["cirrhosis", {"name": str(spec_path), "data": str(small_csv)}])
    first = run_compare(path, backend_factory=CountingFactory(), progress=False)
    assert first.counts == {"ran": 2, "skipped": 0, "failed": 0}
    same = CountingFactory()
    assert run_compare(path, backend_factory=same, progress=False).counts == {"ran": 0, "skipped": 2, "failed": 0}
    assert same.calls == 0  # unchanged spec and CSV: every cell skipped

    lines = small_csv.read_text().splitlines()
    small_csv.write_text("\n".join(lines[:-1]) + "\n")  # a corrected CSV: one row less
    edited = CountingFactory()
    out = run_compare(path, backend_factory=edited, progress=False)
    assert out.counts == {"ran": 1, "skipped": 1, "failed": 0}
    assert {m for m, _ in edited.backends} == {"fake-a"} and {Path(d).stem for _, d in edited.backends} == {"mytable"}
    kids = [k for k in _children(out.run_id) if k.info.status == "FINISHED"]
    for k in kids:  # the cell's tag is the plain digest; a DP cell's (the default) param is keyed
        param, tag = k.data.params["data_digest"], k.data.tags["synllm.data_digest"]
        assert param.startswith("hmac-") if k.data.tags["synllm.private"] == "true" else param == tag


def test_claim_mode_alone_runs_every_cell_once_then_skips(mlflow_store, grid_yaml, fast_eval, monkeypatch):
    monkeypatch.setenv("SYNLLM_HEARTBEAT_S", "1")
    path = grid_yaml(models=["fake-a"], strategies=["clin_rule"])
    out = run_compare(path, backend_factory=CountingFactory(), progress=False, claim=True)
    assert out.counts == {"ran": 2, "skipped": 0, "failed": 0}
    kids = _children(out.run_id)
    assert len(kids) == 2 and {k.data.tags["synllm.claim"] for k in kids} == {"won"}
    assert all(float(k.data.tags["synllm.heartbeat"]) > 0 for k in kids)
    assert out.cells["cell_hash"].tolist() == [c.hash for c in load_grid(path).cells()]  # grid order
    again = run_compare(path, backend_factory=CountingFactory(), progress=False, claim=True)
    assert again.counts == {"ran": 0, "skipped": 2, "failed": 0} and len(again.leaderboard) == 1


def test_a_second_claim_on_a_live_cell_backs_off_and_a_stale_one_is_taken_over(mlflow_store, grid_yaml, monkeypatch):
    from synllm_mlops import tracking
    from synllm_mlops.compare._claim import Claims

    monkeypatch.setenv("SYNLLM_HEARTBEAT_S", "1")
    cell = load_grid(grid_yaml()).cells()[0]
    with tracking.tracked_run("compare", run_name="worker-a") as a:
        first = Claims(a.info.run_id).claim(cell, run_name=cell.name, tags={})
        assert first is not None
    with tracking.tracked_run("compare", run_name="worker-b") as b:
        claims = Claims(b.info.run_id)
        assert claims.claim(cell, run_name=cell.name, tags={}) is None  # a holds it: b's run is deleted
        runs = tracking.cell_runs(cell_hash=cell.hash)[cell.hash]
        assert [r.run_id for r in runs] == [first]
        assert claims.state(runs).kind == "busy"
        mlflow.MlflowClient().set_tag(first, "synllm.heartbeat", "1000.0")  # a's worker died long ago
        assert claims.state(tracking.cell_runs(cell_hash=cell.hash)[cell.hash]).kind == "open"
        lost = mlflow.get_run(first)
        assert lost.info.status == "FAILED" and "sent no heartbeat" in lost.data.tags["synllm.incomplete"]
        assert mlflow.get_run(a.info.run_id).info.status == "FINISHED"  # a's grid run had ended already
        taken = claims.claim(cell, run_name=cell.name, tags={})
        assert taken is not None and taken != first


def test_claim_workers_start_at_different_models_and_keep_cells_grouped(grid_yaml):
    from synllm_mlops.compare._runner import _rotate_models

    cells = load_grid(grid_yaml(models=["m0", "m1", "m2", "m3"])).cells()
    orders = {tuple(dict.fromkeys(c.config.model for c in _rotate_models(cells, f"host:{pid}:x"))) for pid in range(40)}
    assert len({o[0] for o in orders}) == 4  # every model is someone's first
    for o in orders:  # a rotation of the grid's model order, each model's cells together and in grid order
        i = o.index("m0")
        assert o[i:] + o[:i] == ("m0", "m1", "m2", "m3")
    rotated = _rotate_models(cells, "host:1:x")
    assert sorted(c.hash for c in rotated) == sorted(c.hash for c in cells)
    assert [c.hash for c in rotated if c.config.model == "m2"] == [c.hash for c in cells if c.config.model == "m2"]


def test_shards_split_the_grid_and_an_empty_shard_is_fine(mlflow_store, grid_yaml, fast_eval):
    from synllm_mlops.compare._grid import in_shard

    path = grid_yaml(models=["fake-a"], strategies=["clin_rule"])  # 2 cells
    hashes = [c.hash for c in load_grid(path).cells()]
    outs = [run_compare(path, backend_factory=CountingFactory(), progress=False, shard=(k, 4)) for k in range(4)]
    assert [o.counts["ran"] for o in outs] == [sum(in_shard(h, (k, 4)) for h in hashes) for k in range(4)]
    assert sum(o.counts["ran"] for o in outs) == 2
    assert any(o.counts["ran"] == 0 and o.leaderboard.empty for o in outs)  # 2 cells, 4 shards
    full = run_compare(path, backend_factory=CountingFactory(), progress=False)  # afterwards: the whole leaderboard
    assert full.counts == {"ran": 0, "skipped": 2, "failed": 0} and full.leaderboard["n_cells"].tolist() == [2]
    assert mlflow.get_run(outs[0].run_id).data.params["shard"] == "0/4"


def test_a_claim_worker_settles_failed_cells_but_retries_a_model_missing_elsewhere(mlflow_store, grid_yaml):
    from synllm_mlops import tracking
    from synllm_mlops.compare._claim import Claims

    cell = load_grid(grid_yaml()).cells()[0]
    claims = Claims("this-worker")

    def state_after_another_worker_fails(error: str, **tags) -> str:
        with tracking.tracked_run("compare", run_name="another-worker") as other:
            tracking.record_failed_cell(other.info.run_id, cell.hash, run_name=cell.name, params={}, error=error,
                                        tags=tags)
            return claims.state(tracking.cell_runs(cell_hash=cell.hash)[cell.hash]).kind

    missing = {"synllm.cell_skipped": "model not available"}
    assert state_after_another_worker_fails("model 'fake-a' is not available on this machine", **missing) == "open"
    assert state_after_another_worker_fails("RuntimeError: CUDA out of memory") == "failed"
