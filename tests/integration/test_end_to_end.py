"""End to end with the real embedded LLM (SmolLM2-135M) into a temporary MLflow store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.pipeline import generate_rows, prepare
from synllm_mlops.prompts import format_rows
from synllm_mlops.spec import load_spec
from synllm_mlops.workflow import run_generation

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

CONTRACT_METRICS = [
    "gen/validity_rate", "gen/rows_valid", "gen/rows_per_s", "gen/tokens_per_s", "gen/copy_rejects",
    "fidelity/column_shapes", "fidelity/column_pair_trends", "fidelity/detection_auc", "clinical/rule_adherence",
    "privacy/exact_match_rate", "privacy/dcr_share_closer_to_train", "privacy/mia_auc", "utility/tstr_auc",
    "utility/trtr_auc", "score/quality", "score/privacy", "score/harmonic",
]


def test_main_cirrhosis_clin_rule(mlflow_store, hf_backend, cirrhosis):
    spec, real, _ = cirrhosis
    out = run_generation(RunConfig(n_rows=8, batch_size=4, rows_per_completion=2), backend=hf_backend, progress=False)
    run = mlflow.get_run(out.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["synllm.stage"] == "main"
    assert len(out.synthetic) == 8
    assert run.data.metrics["gen/validity_rate"] >= 0.99
    # the default run is DP: its evaluation (exact data) sits in a nested run tagged outside the guarantee
    child = mlflow.get_run(run.data.tags["synllm.evaluation_run_id"])
    assert child.data.tags["synllm.outside_dp_guarantee"] == "true" and run.data.tags["synllm.private"] == "true"
    metrics = {**run.data.metrics, **child.data.metrics}
    # on 8 rows the detection classifier and TSTR may skip (NaN + a reason in the report); the rest must be there
    missing = {m for m in CONTRACT_METRICS if m not in metrics}
    assert missing <= {"fidelity/detection_auc", "utility/tstr_auc"}, missing
    client = mlflow.MlflowClient()
    arts = {f.path for rid in (out.run_id, child.info.run_id) for f in client.list_artifacts(rid, "plots")}
    assert {"plots/distributions.png", "plots/correlation_heatmaps.png", "plots/dcr_histogram.png",
            "plots/calibration.png"} <= arts
    assert run.data.params["model_id"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    # the default calibration (select+steer) ran on the real model: a 1.5x pool, its errors logged
    assert run.data.params["calibration"] == "select+steer" and run.data.metrics["calib/pool_rows"] == 12
    assert 0 <= run.data.metrics["calib/marginal_tv"] <= 1 and 0 <= run.data.metrics["calib/pairwise_tv"] <= 1
    assert mlflow.artifacts.load_text(f"runs:/{out.run_id}/release/release.json").startswith("{")
    # no generated row equal to a real one left the pipeline
    assert not set(format_rows(out.synthetic, spec).splitlines()) & set(format_rows(real, spec).splitlines())


def test_same_seed_same_table(hf_backend):
    # exact release: DP noise comes from the OS, never from the seed, so only a non-private run repeats exactly
    cfg = RunConfig(n_rows=4, batch_size=2, rows_per_completion=2, strategy="featdesc", seed=7, dp_epsilon=None)
    a = generate_rows(prepare(cfg), hf_backend, progress=False).synthetic
    b = generate_rows(prepare(cfg), hf_backend, progress=False).synthetic
    pd.testing.assert_frame_equal(a, b)


def test_breast_cancer(mlflow_store, hf_backend):
    # 30 numeric columns and five hard "mean <= worst" rules, which a regular grammar cannot express:
    # the rule guide enforces them while decoding (without it SmolLM2 broke them in 15 of 16 rows)
    out = run_generation(RunConfig(dataset="breast_cancer", n_rows=3, batch_size=3, rows_per_completion=1,
                                   strategy="featdesc", max_attempts=3), evaluate=False, backend=hf_backend,
                         progress=False)
    assert len(out.synthetic) == 3 and len(out.generation.rejects) == 0, out.generation.rejects
    spec = load_spec("breast_cancer")
    for rule in spec.rules:
        if rule.hard:
            assert not rule.violations(out.synthetic).any(), rule.id


def test_user_csv_with_its_own_spec(mlflow_store, hf_backend, small_csv, tmp_path):
    from synllm_mlops.spec import infer_spec

    spec_path = tmp_path / "mytable.yaml"
    spec_path.write_text(infer_spec(small_csv, target="outcome").to_yaml())
    out = run_generation(RunConfig(dataset=str(spec_path), data=str(small_csv), n_rows=4, batch_size=2,
                                   rows_per_completion=2, strategy="statguide"), backend=hf_backend, progress=False)
    assert len(out.synthetic) == 4 and "score/harmonic" in out.metrics


def test_mlflow_run_entry_point(tmp_path):
    # a fresh store: no experiment/run ids inherited from other tests of the session
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "MLFLOW_DISABLE_TELEMETRY": "true"})
    cmd = [sys.executable, "-m", "mlflow", "run", str(ROOT), "-e", "generate", "--env-manager", "local",
           "-P", "n_rows=2", "-P", "batch_size=2", "-P", "rows_per_completion=1", "-P", "strategy=featdesc"]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    # `mlflow run` without --experiment-name opens its run in Default; the work lands in `synllm`, and the
    # launch run is ended pointing at it
    runs = mlflow.search_runs(experiment_names=["synllm"], output_format="list")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].data.metrics["gen/rows_valid"] == 2
    assert runs[0].data.tags["mlflow.project.entryPoint"] == "generate"  # the launch tags travel with the work
    launch = mlflow.get_run(runs[0].data.tags["synllm.launch_run_id"])
    assert launch.info.experiment_id == "0" and launch.data.tags["synllm.relocated_to"] == runs[0].info.run_id
    assert not launch.data.metrics  # nothing was logged to it
    mlflow.set_tracking_uri(None)
