"""Workflow tests with the deterministic fake backend: tracking contents, errors, interruption."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.errors import ConfigError, GenerationError, ModelLoadError, UnknownNameError
from synllm_mlops.generation import make_backend
from synllm_mlops.prompts import format_rows, to_csv
from synllm_mlops.release import DEFAULT_EPSILON
from synllm_mlops.workflow import run_evaluation, run_generation


def _artifacts(run_id: str, path: str = "") -> list[str]:
    out = []
    for f in mlflow.MlflowClient().list_artifacts(run_id, path):
        out += _artifacts(run_id, f.path) if f.is_dir else [f.path]
    return out


def _fake(spec, **kw):
    return make_backend("fake", "fake", spec=spec, **kw)


def test_generate_run_logs_the_contract(mlflow_store, cirrhosis):
    spec, real, split = cirrhosis
    cfg = RunConfig(n_rows=12, batch_size=4, rows_per_completion=3, strategy="statguide")
    out = run_generation(cfg, evaluate=False, backend=_fake(spec), progress=False)
    run = mlflow.get_run(out.run_id)
    assert run.data.tags["synllm.stage"] == "generate"
    assert run.data.tags["synllm.uses_real_rows"] == "false"
    assert run.data.tags["synllm.prompt_uri"].startswith("prompts:/synllm-statguide/")
    for p in ("dataset", "strategy", "model", "seed", "n_rows", "temperature", "top_p", "model_id", "model_revision",
              "model_dtype", "model_backend", "data_digest"):
        assert p in run.data.params, p
    for m in ("gen/validity_rate", "gen/rows_valid", "gen/rows_per_s", "gen/tokens_per_s", "gen/copy_rejects"):
        assert m in run.data.metrics, m
    arts = _artifacts(out.run_id)
    assert {"synthetic/synthetic.csv", "prompt/prompt.txt", "generation/rejects.csv"} <= set(arts)
    assert len(out.synthetic) == 12 and run.data.metrics["gen/rows_valid"] == 12
    inputs = {d.dataset.name: d.dataset for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"cirrhosis-train", "cirrhosis-holdout"}
    assert all(d.digest and "N_Days" in d.schema for d in inputs.values())


def test_real_rows_never_reach_mlflow(mlflow_store, cirrhosis, tmp_path):
    """Copies are rejected, redacted in rejects.csv; no artifact holds a real row."""
    spec, real, split = cirrhosis
    real_lines = format_rows(split.train.head(30), spec).splitlines()
    backend = _fake(spec, copy_rows=real_lines)
    out = run_generation(RunConfig(n_rows=20, batch_size=4, strategy="clin_rule"), evaluate=False, backend=backend,
                         progress=False)
    assert mlflow.get_run(out.run_id).data.metrics["gen/copy_rejects"] > 0
    all_real = set(format_rows(real, spec).splitlines())
    d = mlflow.artifacts.download_artifacts(run_id=out.run_id, dst_path=str(tmp_path / "a"))
    from pathlib import Path

    for f in Path(d).rglob("*"):
        if f.is_file():
            text = f.read_text(errors="ignore")
            assert not [ln for ln in all_real if ln in text], f"real row in {f}"


def test_seed_ex_run_says_it_uses_real_rows(mlflow_store, cirrhosis):
    spec = cirrhosis[0]
    out = run_generation(RunConfig(n_rows=4, strategy="seed_ex", batch_size=2), evaluate=False, backend=_fake(spec),
                         progress=False)
    assert mlflow.get_run(out.run_id).data.tags["synllm.uses_real_rows"] == "true"


def test_prompt_registry_versions_only_on_change(mlflow_store, cirrhosis):
    from synllm_mlops.tracking import register_prompt

    a = register_prompt("featdesc", "template A {{x}}", uses_real_rows=False)
    assert register_prompt("featdesc", "template A {{x}}", uses_real_rows=False) == a
    b = register_prompt("featdesc", "template B {{x}}", uses_real_rows=False)
    assert a.endswith("/1") and b.endswith("/2")


def test_garbage_model_keeps_rejects_and_says_so(mlflow_store, cirrhosis):
    spec = cirrhosis[0]
    with pytest.raises(GenerationError, match=r"no valid row .*rejects are logged in run"):
        run_generation(RunConfig(n_rows=4, batch_size=2, max_attempts=4), evaluate=False,
                       backend=_fake(spec, garbage_rate=1.0), progress=False)
    run = mlflow.search_runs(experiment_names=["synllm-test"], output_format="list")[0]
    assert run.info.status == "FAILED"
    rej = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/generation/rejects.csv")
    assert "field count" in rej and "I am sorry" in rej


def test_budget_exhausted_keeps_partial_rows(mlflow_store, cirrhosis):
    spec = cirrhosis[0]
    out = run_generation(RunConfig(n_rows=40, batch_size=2, rows_per_completion=2, max_attempts=4), evaluate=False,
                         backend=_fake(spec, garbage_rate=0.5), progress=False)
    assert 0 < len(out.synthetic) < 40
    assert "only" in mlflow.get_run(out.run_id).data.tags["synllm.incomplete"]


def test_interrupted_run_keeps_generated_rows(mlflow_store, cirrhosis):
    spec = cirrhosis[0]
    backend = _fake(spec)
    orig = backend._generate_batch

    def flaky(*a, **k):
        if backend.calls >= 2:
            raise KeyboardInterrupt
        return orig(*a, **k)

    backend._generate_batch = flaky
    with pytest.raises(KeyboardInterrupt):
        run_generation(RunConfig(n_rows=40, batch_size=2, rows_per_completion=2), evaluate=False, backend=backend,
                       progress=False)
    run = mlflow.search_runs(experiment_names=["synllm-test"], output_format="list")[0]
    assert run.info.status == "KILLED"
    csv = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/synthetic/synthetic.csv")
    assert len(csv.strip().splitlines()) == 1 + 8  # header + 2 batches x 2 sequences x 2 rows
    assert "interrupted" in run.data.tags["synllm.incomplete"]


def test_same_seed_same_table_fake(mlflow_store, cirrhosis):
    spec = cirrhosis[0]
    cfg = RunConfig(n_rows=10, batch_size=3, rows_per_completion=2, dp_epsilon="none")  # DP noise is never seeded
    a = run_generation(cfg, evaluate=False, backend=_fake(spec), progress=False).synthetic
    b = run_generation(cfg, evaluate=False, backend=_fake(spec), progress=False).synthetic
    pd.testing.assert_frame_equal(a, b)


def test_main_then_evaluate_by_run_id(mlflow_store, cirrhosis):
    spec = cirrhosis[0]
    out = run_generation(RunConfig(n_rows=30, batch_size=8, rows_per_completion=4), backend=_fake(spec), progress=False)
    for m in ("fidelity/column_shapes", "privacy/mia_auc", "score/harmonic", "utility/trtr_auc"):
        assert m in out.metrics
    ev = run_evaluation(run_id=out.run_id, progress=False)
    assert ev.metrics["fidelity/column_shapes"] == pytest.approx(out.metrics["fidelity/column_shapes"])
    run = mlflow.get_run(ev.run_id)
    assert run.data.tags["synllm.stage"] == "evaluate" and run.data.tags["synllm.source_run_id"] == out.run_id
    assert "evaluation/report.json" in _artifacts(ev.run_id)


def test_errors_surface_before_the_model_loads(mlflow_store):
    with pytest.raises(ConfigError, match="unknown strategy 'clinrule'; choose one of"):
        RunConfig.build(strategy="clinrule")
    with pytest.raises(ConfigError, match="temperature: Input should be greater than 0"):
        RunConfig.build(temperature=-0.1)
    with pytest.raises(ModelLoadError, match="unknown model 'gpt-17'"):
        make_backend("hf", "gpt-17")
    with pytest.raises(ModelLoadError, match="not available on this machine.*huggingface-cli download"):
        make_backend("hf", "mistral-7b-instruct-v0.2")
    with pytest.raises(UnknownNameError, match="unknown backend 'tgi'"):
        make_backend("tgi", "smollm2-135m")
    with pytest.raises(ConfigError, match="exactly one of run_id"):
        run_evaluation()


def test_probe_run_logs_the_memorisation_rate_and_no_row(mlflow_store, cirrhosis):
    from click.testing import CliRunner

    from synllm_mlops.cli import cli

    spec, real, split = cirrhosis
    r = CliRunner().invoke(cli, ["probe", "--backend", "fake", "--model", "fake", "--n-probes", "6.0", "--seed", "1"])
    assert r.exit_code == 0, r.output
    run = mlflow.search_runs(search_all_experiments=True, filter_string="tags.`synllm.stage` = 'probe'",
                             output_format="list")[0]
    assert 0 <= run.data.metrics["privacy/memorisation_rate"] <= 1 and "privacy/memorisation_baseline" in run.data.metrics
    assert run.data.params["n_prefix_fields"] == str(len(spec.columns) // 2)
    text = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/privacy/memorisation_probe.json")
    assert not any(line in text for line in format_rows(real, spec).splitlines())
    bad = CliRunner().invoke(cli, ["probe", "--backend", "fake", "--n-probes", "0"])
    assert bad.exit_code == 2 and "n_probes" in bad.output and "(got 0)" in bad.output and "a whole number >= 1" in bad.output


def test_dp_run_logs_one_ledger_that_spends_epsilon_on_prompt_and_targets(mlflow_store, cirrhosis):
    import json

    spec = cirrhosis[0]
    cfg = RunConfig(n_rows=8, batch_size=4, rows_per_completion=2, strategy="statguide", dp_epsilon=1.0)
    out = run_generation(cfg, evaluate=False, backend=_fake(spec), progress=False)
    release = json.loads(mlflow.artifacts.load_text(f"runs:/{out.run_id}/release/release.json"))
    entries = release["ledger"]["releases"]
    releases = [e["release"] for e in entries]
    assert any(r.startswith("calibration:") for r in releases) and any(not r.startswith("calibration:") for r in releases)
    assert sum(e["epsilon"] for e in entries) == pytest.approx(1.0)
    assert mlflow.get_run(out.run_id).data.metrics["privacy/dp_epsilon_spent"] == pytest.approx(1.0)
    assert release["targets"]["source"] == "dp" and release["ledger"]["epsilon"] == 1.0


def test_run_reads_well_in_the_ui(mlflow_store, cirrhosis):
    """Issue 13: model in the run name, no empty params, a description with the scores, a logged model, a trace.

    A non-private run: it holds its evaluation itself (a DP run's is in a child run, outside the guarantee:
    ``test_a_dp_run_logs_nothing_exact_next_to_the_noise``).
    """
    spec, real, split = cirrhosis
    out = run_generation(RunConfig(n_rows=24, batch_size=8, strategy="clin_rule", dp_epsilon="none"),
                         backend=_fake(spec), progress=False)
    run = mlflow.get_run(out.run_id)
    assert run.info.run_name == "main-cirrhosis-clin_rule-smollm2-135m-s0"
    assert "" not in run.data.params.values() and "data" not in run.data.params
    assert run.data.params["dp_epsilon"] == "none"  # the effective value, always logged
    note = run.data.tags["mlflow.note.content"]
    m = run.data.metrics
    # issue 20: the answer first (rounded scores and the lift over the no-LLM control), as a tag too
    headline = run.data.tags["synllm.headline"]
    assert headline.startswith(f"H {m['score/harmonic']:.3f} · Q {m['score/quality']:.3f} · P {m['score/privacy']:.3f}")
    assert f"vs no-LLM control H {m['lift/score/harmonic']:+.3f} ± {m['lift/score/harmonic_ci95']:.3f}" in headline
    assert note.startswith(f"**{headline}**\n\n**smollm2-135m** · `clin_rule` · cirrhosis · 24 of 24 rows kept · "
                           "validity 1.000")
    for name in ("score/quality", "score/privacy", "score/harmonic"):
        assert (f"| `{name}` | **{m[name]:.3f}** | {m['control/' + name]:.3f} ± {m['control/' + name + '_ci95']:.3f} | "
                f"{m['lift/' + name]:+.3f} ± {m['lift/' + name + '_ci95']:.3f} |") in note
    assert m["control/tables"] == 5 and run.data.tags["synllm.control"].startswith("stats backend, 5 tables")
    # a component is named with the metric it comes from (a 0.910 "dcr_share" is not dcr_share_closer_to_train)
    assert "(from `" in note
    assert "evaluation/report.html" in note
    [model] = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert model.source_run_id == out.run_id and model.params["strategy"] == "clin_rule"
    assert model.tags["synllm.prompt_uri"] == run.data.tags["synllm.prompt_uri"]
    assert {m.key for m in model.metrics} >= {"score/harmonic", "gen/validity_rate"}  # comparable in the Models view
    [trace] = mlflow.search_traces(run_id=out.run_id, return_type="list")
    batches = [s for s in trace.data.spans if s.name.startswith("batch ")]
    assert len(batches) == int(run.data.metrics["gen/completions"] // 8 + (run.data.metrics["gen/completions"] % 8 > 0))
    assert sum(s.attributes["rows.valid"] for s in batches) == run.data.metrics["calib/pool_rows"]
    assert all(s.attributes["prompt_uri"] == run.data.tags["synllm.prompt_uri"] for s in batches)
    report = mlflow.artifacts.load_text(f"runs:/{out.run_id}/evaluation/report.html")
    summary = report[report.index("id='summary'"):report.index("Every metric")]
    for text in (out.run_id, "smollm2-135m", "clin_rule", run.data.tags["synllm.prompt_uri"], run.data.params["data_digest"]):
        assert text in summary, text
    assert summary.count("class='worst'") == 1
    pv = mlflow.genai.load_prompt(run.data.tags["synllm.prompt_uri"])
    assert pv.tags["synllm.last_run_id"] == out.run_id and "synllm.prompt_uri" in pv.tags["synllm.runs_filter"]


def test_a_dp_run_logs_nothing_exact_next_to_the_noise(mlflow_store, cirrhosis, tmp_path):
    """No exact row counts, keyed digests, the evaluation (exact train data) in its own child run outside the
    guarantee; ``evaluate --run-id`` still checks the data against the keyed digest."""
    from synllm_mlops.spec import data_digest

    spec, real, split = cirrhosis
    cfg = RunConfig(n_rows=12, batch_size=4, rows_per_completion=3, strategy="statguide", dp_epsilon=1.0,
                    control_tables=1)
    out = run_generation(cfg, backend=_fake(spec), progress=False)
    run = mlflow.get_run(out.run_id)
    params, tags = run.data.params, run.data.tags
    assert not {"n_real_rows", "n_train", "n_holdout"} & set(params)
    assert params["data_digest"].startswith("hmac-") and data_digest(real) not in params["data_digest"]
    for ds in run.inputs.dataset_inputs:
        assert ds.dataset.digest.startswith("hmac-") and not any(t.key == "rows" for t in ds.tags)
    assert data_digest(split.train) not in {ds.dataset.digest for ds in run.inputs.dataset_inputs}
    # the evaluation: metrics, report and plots in a child run tagged outside the DP guarantee
    child = mlflow.get_run(tags["synllm.evaluation_run_id"])
    assert child.data.tags["synllm.outside_dp_guarantee"] == "true"
    assert child.data.tags["mlflow.parentRunId"] == out.run_id
    assert "fidelity/column_shapes" in child.data.metrics and "control/score/harmonic" in child.data.metrics
    assert not any(m.startswith(("fidelity/", "score/", "control/", "lift/")) for m in run.data.metrics)
    assert "evaluation/report.json" in _artifacts(child.info.run_id)
    # the parent keeps only what reads the release and the synthetic rows (the calibration figure)
    assert [a for a in _artifacts(out.run_id) if a.startswith(("evaluation/", "plots/"))] == ["plots/calibration.png"]
    assert "privacy/dp_epsilon_spent" in run.data.metrics
    # the run's page points at its scores without quoting a figure computed on the exact data
    for text in (tags["synllm.headline"], tags["mlflow.note.content"]):
        assert child.info.run_name in text and "outside the DP guarantee" in text
        assert f"{child.data.metrics['score/harmonic']:.3f}" not in text
    # evaluate --run-id: the keyed digest of the same data matches; another table is refused
    ev = run_evaluation(run_id=out.run_id, progress=False)
    assert mlflow.get_run(ev.run_id).data.tags["synllm.outside_dp_guarantee"] == "true"
    other = tmp_path / "other.csv"
    other.write_text(to_csv(real.iloc[1:], spec))  # the CSV with one patient less
    with pytest.raises(ConfigError, match=r"is not the data run .* was generated from \(digest hmac-"):
        run_evaluation(run_id=out.run_id, data=str(other), progress=False)


def test_a_run_logs_its_release_level_as_a_param_and_in_the_release(mlflow_store, cirrhosis):
    import json

    spec = cirrhosis[0]
    cfg = RunConfig(n_rows=8, batch_size=4, rows_per_completion=2, strategy="statguide", release_level="marginals")
    out = run_generation(cfg, evaluate=False, backend=_fake(spec), progress=False)
    assert mlflow.get_run(out.run_id).data.params["release_level"] == "marginals"
    release = json.loads(mlflow.artifacts.load_text(f"runs:/{out.run_id}/release/release.json"))
    assert release["options"]["release_level"] == "marginals" and release["targets"]["meta"]["released_pairs"] == []
    assert "By Status" not in release["statistics"]


@pytest.mark.parametrize("kw", [{"dp_epsilon": "none"}, {"strategy": "seed_ex"}])
def test_a_non_private_run_warns_once_and_is_tagged(mlflow_store, cirrhosis, caplog, kw):
    spec = cirrhosis[0]
    cfg = RunConfig.build(n_rows=8, batch_size=4, rows_per_completion=2, **kw)
    with caplog.at_level("WARNING"):
        out = run_generation(cfg, evaluate=False, backend=_fake(spec), progress=False)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "NOT PRIVATE" in r.getMessage()]
    assert len(warned) == 1 and "\n" not in warned[0] and "fix:" in warned[0]
    assert ("dp_epsilon=none" if "dp_epsilon" in kw else "seed_ex") in warned[0]
    run = mlflow.get_run(out.run_id)
    assert run.data.tags["synllm.private"] == "false" and run.data.params["dp_epsilon"] == "none"
    caplog.clear()
    with caplog.at_level("WARNING"):  # the default run: private, tagged so, no warning
        out = run_generation(RunConfig.build(n_rows=8, batch_size=4, rows_per_completion=2), evaluate=False,
                             backend=_fake(spec), progress=False)
    assert not [r for r in caplog.records if "NOT PRIVATE" in r.getMessage()]
    run = mlflow.get_run(out.run_id)
    assert run.data.tags["synllm.private"] == "true" and run.data.params["dp_epsilon"] == str(DEFAULT_EPSILON)
