"""The adversary's scan: no real row, decorated or with one field changed, in any artifact, param, tag, log,
trace (span inputs, outputs, attributes) or logged-model artifact."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.generation import make_backend
from synllm_mlops.parsing import NearCopyIndex, table_keys
from synllm_mlops.prompts import format_rows
from synllm_mlops.workflow import run_generation


def _variants(lines: list[str], spec) -> list[str]:
    """What a free-text model writes when it echoes its example rows (the cases found by the attack)."""
    out = []
    for i, line in enumerate(lines):
        fields = line.split(",")
        changed = fields.copy()
        j = 1 + i % (len(fields) - 1)
        col = spec.columns[j]
        changed[j] = (f"{col.max + 1:.{col.decimals}f}" if col.is_numeric else "zz")  # one field out of range
        moved = fields.copy()
        moved[0] = f"{float(fields[0]) + 1:.0f}" if fields[0] != "NA" else "1"  # one value changed, still valid
        out += [f"{i + 1}. {line}", f"Patient: {line}", f'"{line}"', f"{line},", ",".join(changed), ",".join(moved)]
    return out


def test_unconstrained_seed_ex_run_leaks_no_real_row_anywhere(mlflow_store, cirrhosis, tmp_path, caplog, capsys):
    spec, real, split = cirrhosis
    lines = format_rows(split.train.head(12), spec).splitlines()
    backend = make_backend("fake", "fake", spec=spec, copy_rows=_variants(lines, spec))
    caplog.set_level(logging.DEBUG)
    cfg = RunConfig(strategy="seed_ex", constrained=False, n_rows=16, batch_size=4, rows_per_completion=3,
                    calibration="none")
    out = run_generation(cfg, evaluate=True, backend=backend, progress=False)
    run = mlflow.get_run(out.run_id)
    assert run.data.metrics["gen/copy_rejects"] + run.data.metrics["gen/near_copy_rejects"] > 0
    index = NearCopyIndex(table_keys(real, spec), spec)
    d = Path(mlflow.artifacts.download_artifacts(run_id=out.run_id, dst_path=str(tmp_path / "a")))
    texts = {str(f.relative_to(d)): f.read_text(errors="replace") for f in d.rglob("*") if f.is_file()
             and f.suffix in (".csv", ".txt", ".json", ".html", ".yaml")}
    assert "prompt/prompt.txt" in texts and "generation/rejects.csv" in texts
    texts["params"] = "\n".join(f"{k}={v}" for k, v in run.data.params.items())
    texts["tags"] = "\n".join(f"{k}={v}" for k, v in run.data.tags.items())
    texts["logs"] = caplog.text + "\n".join(capsys.readouterr())
    traces = mlflow.search_traces(run_id=out.run_id, return_type="list")
    assert len(traces) == 1 and len(traces[0].data.spans) >= 2  # the generation and its batches
    for span in traces[0].data.spans:
        texts[f"trace span {span.name}"] = "\n".join(_strings(span.to_dict()))
        assert "completions" not in json.dumps(span.outputs or {}), span.name  # counts and reasons only
    models = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert [m.source_run_id for m in models] == [out.run_id]
    md = Path(mlflow.artifacts.download_artifacts(f"models:/{models[0].model_id}", dst_path=str(tmp_path / "m")))
    texts.update({f"model {f.name}": f.read_text() for f in md.rglob("*") if f.is_file()})
    texts["note"] = run.data.tags["mlflow.note.content"]
    for name, text in texts.items():
        for line in text.splitlines():
            assert not index.in_line(line), (name, line[:200])
    rejects = texts["generation/rejects.csv"]
    assert "<redacted>" in rejects and "near copy of a real row" in rejects
    assert "real example rows from the train split: shown to the model, never logged" in texts["prompt/prompt.txt"]
    assert "never logged" in texts["trace span generate"]  # the trace shows the loggable prompt


def _strings(x) -> list[str]:
    """Every string leaf of a JSON-like value (span attributes are JSON-encoded strings themselves)."""
    if isinstance(x, dict):
        return [s for k, v in x.items() for s in [str(k), *_strings(v)]]
    if isinstance(x, (list, tuple)):
        return [s for v in x for s in _strings(v)]
    if isinstance(x, str):
        try:
            inner = json.loads(x)
        except ValueError:
            return [x]
        return _strings(inner) if isinstance(inner, (dict, list, str)) and inner != x else [x]
    return [str(x)]


@pytest.mark.parametrize("decorate", [lambda l: f"1. {l}", lambda l: f"Patient: {l}", lambda l: f'"{l}"',
                                      lambda l: f"{l},", lambda l: l.replace(",", ";")])
def test_near_copy_index_sees_decorated_rows(cirrhosis, decorate):
    spec, real, split = cirrhosis
    line = format_rows(split.train.iloc[[3]], spec).strip()
    index = NearCopyIndex(table_keys(split.train, spec), spec)
    assert index.in_line(decorate(line))
    other = format_rows(split.holdout.iloc[[0]], spec).strip()
    assert not index.in_line(decorate(other))  # a different patient is not flagged


def test_one_changed_field_is_near_two_are_not(cirrhosis):
    spec, real, split = cirrhosis
    key = next(iter(table_keys(split.train.head(1), spec)))
    index = NearCopyIndex([key], spec)
    one = ("9999",) + key[1:]
    two = ("9999", "zz") + key[2:]
    assert index.near(key) and index.near(one) and not index.near(two)
    small = spec.model_copy(update={"columns": spec.columns[:3], "rules": []})
    few = NearCopyIndex([key[:3]], small)
    assert few.near(key[:3]) and not few.near(("9999",) + key[1:3])  # < 6 columns: exact only
