"""The adversary's scan: no real row, in any form, nor a row within two values of one, in any artifact,
param, tag, log, trace (span inputs, outputs, attributes) or logged-model artifact.

The scan is independent of the guard: it reads values its own way (every number, decimal point or comma,
every word, any empty field) from the real table itself (not the row keys the guard uses), and counts
shared values per real row over windows of consecutive lines, by brute force.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.generation import make_backend
from synllm_mlops.parsing import NearCopyIndex, table_keys
from synllm_mlops.prompts import format_rows
from synllm_mlops.workflow import run_generation


class Scanner:
    """Finds texts holding all but ``slack`` of some real row's values (multisets, any order, any format)."""

    _NA = {"na", "nan", "null", "none", "n/a", "nil", "missing", ""}

    def __init__(self, real: pd.DataFrame, slack: int = 2):
        self.k, self.need = real.shape[1], real.shape[1] - slack
        bags = [Counter(self._atom(v) for v in row) for row in real.itertuples(index=False)]
        self.vocab = {a: i for i, a in enumerate(sorted({a for b in bags for a in b}))}
        self.rows = np.zeros((len(bags), len(self.vocab)), dtype=np.int16)
        for r, b in enumerate(bags):
            for a, c in b.items():
                self.rows[r, self.vocab[a]] = c

    @classmethod
    def _atom(cls, v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip().lower() in cls._NA:
            return "na"
        try:
            return f"{float(v):.6f}"
        except ValueError:
            return str(v).strip().lower()

    def _line(self, line: str) -> np.ndarray:
        low = line.lower()
        atoms = [f"{float(n.replace(',', '.')):.6f}" for n in re.findall(r"\d+,\d+", low)]  # decimal commas
        atoms += [f"{float(n):.6f}" for n in re.findall(r"\d*\.?\d+", low)]
        words = re.findall(r"[a-z][a-z\-_/]*", low)
        atoms += ["na" if w in self._NA else w for w in words]
        atoms += [p for p in map(" ".join, zip(words, words[1:])) if p in self.vocab]  # two-word categories
        atoms += ["na"] * len(re.findall(r"(?:^|[,;\t|])\s*(?=[,;\t|]|$)", line))  # empty fields
        v = np.zeros(len(self.vocab), dtype=np.int16)
        for a, c in Counter(atoms).items():
            if a in self.vocab:
                v[self.vocab[a]] += c
        return v

    def hits(self, text: str) -> list[str]:
        """Windows of consecutive lines of ``text`` that hold a real row, all but ``slack`` values.

        A window starts at each line and takes lines until it holds enough known values to be a near copy,
        then one line more (a row split over lines, a block of ``key: value`` lines).
        """
        lines = text.splitlines()
        vecs = [self._line(x) for x in lines]
        found = []
        for i in range(len(lines)):
            acc, j = vecs[i].copy(), i
            while acc.sum() < self.need and j + 1 < len(lines):
                j += 1
                acc += vecs[j]
            for end in range(j, min(j + 2, len(lines))):
                if end > j:
                    acc += vecs[end]
                seen = np.flatnonzero(acc)
                if (np.minimum(self.rows[:, seen], acc[seen]).sum(axis=1) >= self.need).any():
                    found.append("\n".join(lines[i:end + 1]))
                    break
        return found


def corpus(real_lines: list[str], spec) -> dict[str, list[str]]:
    """How a free-text model writes the rows it echoes: every form the attack review found, and more."""
    names = spec.column_names
    units = {c.name: c.unit for c in spec.columns if c.unit}
    is_num = {c.name: c.is_numeric for c in spec.columns}
    lo = {c.name: c.min for c in spec.columns if c.is_numeric}
    forms: dict[str, list[str]] = {}

    def add(name, text):
        forms.setdefault(name, []).append(text)

    for i, line in enumerate(real_lines):
        f = line.split(",")
        d = dict(zip(names, f))
        half = len(f) // 2
        add("verbatim", line)
        add("numbered", f"{i + 1}. {line}")
        add("labelled", f"Patient {i + 1}: {line}")
        add("quoted", f'"{line}"')
        add("trailing comma", f"{line},")
        add("semicolons", ";".join(f))
        add("json object", json.dumps(d))
        add("json, numbers typed", json.dumps({k: (float(v) if is_num[k] and v != "NA" else v) for k, v in d.items()}))
        add("key: value line", ", ".join(f"{k}: {v}" for k, v in d.items()))
        add("key: value lines", "\n".join(f"{k}: {v}" for k, v in d.items()))
        add("key=value", " ".join(f"{k}={v}" for k, v in d.items()))
        add("space separated", " ".join(f))
        add("tab separated", "\t".join(f))
        add("reversed columns", ",".join(reversed(f)))
        add("dropped field", ",".join(f[:3] + f[4:]))
        add("duplicated field", ",".join(f[:5] + [f[5]] + f[5:]))
        add("attached units", ",".join(f"{v}{units.get(k, '')}" if is_num[k] and v != "NA" else v
                                       for k, v in d.items()))
        add("spaced units", ", ".join(f"{v} {units.get(k, '')}".strip() for k, v in d.items()))
        add("lower-case categories", ",".join(v if is_num[k] else v.lower() for k, v in d.items()))
        add("null for NA", ",".join("null" if v == "NA" else v for v in f))
        add("None for NA", ",".join("None" if v == "NA" else v for v in f))
        add("empty for NA", ",".join("" if v == "NA" else v for v in f))
        add("decimal commas", ";".join(v.replace(".", ",") for v in f))
        add("split over two lines", ",".join(f[:half]) + "\n" + ",".join(f[half:]))
        add("markdown table row", "| " + " | ".join(f) + " |")
        add("markdown bold", "**" + "**, **".join(f) + "**")
        add("python tuple", repr(tuple(f)))
        add("prose", "The patient: " + "; ".join(f"{k.lower()} is {v}" for k, v in d.items()) + ".")
        two = f.copy()
        num = [j for j, k in enumerate(names) if is_num[k] and f[j] != "NA"]
        for j in num[:2]:  # two values changed, the row still valid
            two[j] = f"{float(f[j]) + 1:.{spec.columns[j].decimals}f}"
        add("two values changed", ",".join(two))
        sw = f.copy()
        a, b = num[-2], num[-1]
        sw[a], sw[b] = f[b], f[a]
        add("two values swapped", ",".join(sw))
        oor = f.copy()
        oor[num[0]] = f"{lo[names[num[0]]] - 1:g}"
        add("one value out of range", ",".join(oor))
    return forms


def test_the_scanner_sees_every_form_and_not_other_patients(cirrhosis):
    """The scan's own controls: it flags each form of a real row, and neither another patient nor fake rows."""
    spec, real, split = cirrhosis
    lines = format_rows(split.train.head(3), spec).splitlines()
    forms = corpus(lines, spec)
    assert len(forms) >= 20
    train_scan = Scanner(split.train[spec.column_names])
    for name, texts in forms.items():
        for t in texts:
            assert train_scan.hits(t), name
    others = format_rows(split.holdout, spec)
    assert not train_scan.hits(others)
    fake = make_backend("fake", "fake", spec=spec)
    rows = "\n".join(fake._row(np.random.default_rng(s)) for s in range(200))
    assert not train_scan.hits(rows)


def test_the_guard_reads_every_form_of_the_corpus(cirrhosis):
    """The generation guard's own reading of each form (the run below checks what reaches the artifacts)."""
    spec, real, split = cirrhosis
    index = NearCopyIndex(table_keys(split.train, spec), spec)
    for name, texts in corpus(format_rows(split.train.head(4), spec).splitlines(), spec).items():
        for t in texts:
            assert index.flag_lines(t.splitlines()) == set(range(len(t.splitlines()))), name
    assert not index.flag_lines(format_rows(split.holdout, spec).splitlines())


def test_unconstrained_seed_ex_run_leaks_no_real_row_anywhere(mlflow_store, cirrhosis, tmp_path, caplog, capsys):
    spec, real, split = cirrhosis
    forms = corpus(format_rows(split.train.head(4), spec).splitlines(), spec)
    echoed = [t for texts in zip(*forms.values()) for t in texts]  # form by form, row by row
    backend = make_backend("fake", "fake", spec=spec, copy_rows=echoed, copy_all=True)
    caplog.set_level(logging.DEBUG)
    cfg = RunConfig(strategy="seed_ex", constrained=False, n_rows=16, batch_size=4, rows_per_completion=4,
                    calibration="none", max_attempts=80)
    out = run_generation(cfg, evaluate=True, backend=backend, progress=False)
    assert backend._copied == len(echoed) > 20 * 4  # the model echoed the whole corpus
    run = mlflow.get_run(out.run_id)
    assert run.data.metrics["gen/copy_rejects"] >= 4 and run.data.metrics["gen/near_copy_rejects"] >= 4
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
    scan = Scanner(real[spec.column_names])
    for name, text in texts.items():
        assert not scan.hits(text), (name, scan.hits(text)[:1])
    rejects = pd.read_csv(d / "generation" / "rejects.csv", keep_default_na=False)
    assert (rejects["line"] == "<redacted>").sum() >= len(echoed)  # every echoed text, on as many lines as it took
    assert "near copy of a real row" in set(rejects["reason"])
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


def test_two_changed_values_are_near_three_are_not_and_small_tables_match_exactly(cirrhosis):
    spec, real, split = cirrhosis
    key = next(iter(table_keys(split.train.head(1), spec)))
    index = NearCopyIndex([key], spec)
    one = ("9999",) + key[1:]
    two = ("9999", "zz") + key[2:]
    three = ("9999", "zz", "yy") + key[3:]
    assert index.near(key) and index.near(one) and index.near(two) and not index.near(three)
    assert index.near(tuple(reversed(two)))  # any order
    small = spec.model_copy(update={"columns": spec.columns[:3], "rules": []})
    few = NearCopyIndex([key[:3]], small)
    assert few.near(key[:3]) and not few.near(("9999",) + key[1:3])  # < 6 columns: exact only
