"""Load a spec and its real table, check one against the other, split train/holdout."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from synllm_mlops.errors import DataError, SpecError, show, unknown
from synllm_mlops.spec._builtin import BUILTIN_LOADERS
from synllm_mlops.spec._schema import MISSING_TEXTS, AllowedRule, DatasetSpec, ImplicationRule, OrderingRule, RangeRule, as_category, key_frame

_RULE_MODELS = {"range": RangeRule, "allowed": AllowedRule, "implication": ImplicationRule, "ordering": OrderingRule}

SPEC_DIR = Path(__file__).parent / "specs"
_MISSING = MISSING_TEXTS  # the name spec._infer imports


def builtin_specs() -> list[str]:
    """Names of the specs that ship with the package."""
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def _readable(loc: tuple, raw: dict) -> str:
    """A pydantic error location as the YAML reads: ``columns[3] 'Age'.min``, ``rules[0] 'age_adult'.if.op``."""
    out, node = [], raw
    for i, part in enumerate(loc):
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            label = node.get("name") or node.get("id") if isinstance(node, dict) else None
            out[-1] += f"[{part}]" + (f" {label!r}" if isinstance(label, str) else "")
        elif out and out[-1].startswith("rules[") and i == 2 and part in _RULE_MODELS:
            continue  # the discriminator's tag: the rule's 'kind', already known from its entry
        else:
            node = node.get(part) if isinstance(node, dict) else None
            out.append(str(part))
    return ".".join(out) or "<top level>"


def _allowed_keys(loc: tuple) -> list[str]:
    """The keys the mapping holding the key at ``loc`` may have."""
    from synllm_mlops.spec._schema import ColumnSpec, Condition

    if len(loc) == 1:
        model = DatasetSpec
    elif loc[0] == "columns":
        model = ColumnSpec
    elif loc[0] == "rules" and len(loc) >= 3 and loc[2] in _RULE_MODELS:
        model = Condition if len(loc) >= 5 else _RULE_MODELS[loc[2]]
    else:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _schema_problem(err: dict, raw: dict) -> str:
    loc = tuple(err["loc"])
    where = _readable(loc, raw)
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc)
        return (f"{where}: unknown key {show(loc[-1])}" + (f"; allowed keys: {', '.join(allowed)}" if allowed else ""))
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        got = f"unknown rule kind {show(err['ctx']['tag'])}" if err["type"] == "union_tag_invalid" else "no 'kind'"
        return f"{where}: {got}; set kind: to one of {', '.join(_RULE_MODELS)}"
    if err["type"] == "missing":
        return f"{where}: required key {show(loc[-1])} is missing; add it"
    if err["type"] in ("value_error", "assertion_error"):
        msg = str(err.get("ctx", {}).get("error", err["msg"]))
        return "\n  - ".join(msg.splitlines())  # our own checks: each line names its column or rule
    return f"{where}: {err['msg'].rstrip('.')}, got {show(err.get('input'))}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key written twice in one mapping (plain YAML keeps the last, silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} appears twice in one mapping; "
                                                        "keep one", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_spec(dataset: str | Path) -> DatasetSpec:
    """Load a built-in spec by name, or a spec YAML by path.

    Every check the grammar, the rule guide and the evaluation rely on runs here (see ``_checks``), so a
    spec that loads can be generated from and evaluated against.

    Raises:
        SpecError: the file is missing, not UTF-8 YAML, or breaks the spec schema (every problem listed).
    """
    name = str(dataset)
    path = SPEC_DIR / f"{name}.yaml" if name in builtin_specs() else Path(name)
    if path.is_dir():
        raise SpecError(f"spec {name!r} is a directory; pass the path to a spec YAML file "
                        "(draft one with `synllm spec infer data.csv -o spec.yaml`)")
    if not path.is_file():
        if name.endswith((".yaml", ".yml")) or "/" in name:
            raise SpecError(f"spec file {name!r} does not exist; pass a built-in dataset "
                            f"({', '.join(builtin_specs())}) or the path to a spec YAML")
        raise unknown("dataset", name, builtin_specs() + ["<path/to/spec.yaml>"])
    try:
        raw = yaml.load(path.read_bytes().decode("utf-8-sig"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except UnicodeDecodeError as e:
        raise SpecError(f"spec {name!r} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}); "
                        "save it as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = " ".join(str(getattr(e, "problem", None) or e).split())
        raise SpecError(f"spec {name!r} is not valid YAML{at}: {what}; fix the YAML syntax there "
                        "(see synllm_mlops/spec/specs/ for examples)") from None
    if not isinstance(raw, dict):
        raise SpecError(f"spec {name!r} must be a YAML mapping with keys name, target, columns, ...; "
                        f"got {'an empty file' if raw is None else type(raw).__name__}")
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as e:
        lines = [f"  - {_schema_problem(err, raw)}" for err in e.errors()]
        raise SpecError(f"spec {name!r} does not match the spec schema ({len(lines)} problem(s)):\n"
                        + "\n".join(lines) + "\nFix the YAML (see synllm_mlops/spec/specs/ for examples).") from None


MIN_REAL_ROWS = 10
"""A real table needs this many rows: the train/holdout split (and the statistics) need some of each."""
MIN_SYNTHETIC_ROWS = 1
"""A synthetic table needs one row: every metric is defined from one (those that need more say why)."""


def read_csv(path: str | Path, *, role: str = "data file", min_rows: int = MIN_REAL_ROWS) -> pd.DataFrame:
    """Read a CSV as text (typing happens against the spec), refusing anything that is not one clean table.

    A directory, an empty or binary file, text that is not UTF-8, an unreadable quote, a header with an
    unnamed or repeated column, a row with more or fewer fields than the header, and fewer than
    ``min_rows`` rows are each a :class:`DataError` naming the file, the line and the fix.
    """
    p, name = Path(path), show(str(path))
    if p.is_dir():
        raise DataError(f"{role} {name} is a directory, not a CSV file; pass the path to a CSV file inside it")
    if not p.is_file():
        raise DataError(f"{role} {name} does not exist; pass data=<path to a CSV file>")
    fix = "Fix: save it as comma-separated UTF-8 text with one header row."
    data = p.read_bytes()
    if b"\0" in data[:8192]:
        what = " (an Excel workbook? export it as CSV)" if data.startswith(b"PK\x03\x04") else ""
        raise DataError(f"{role} {name} is a binary file, not a CSV{what}. {fix}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{role} {name} is not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start}). {fix}") from None
    reader = csv.reader(io.StringIO(text), skipinitialspace=True, strict=True)
    try:
        header = [h.strip() for h in next((row for row in reader if row), [])]  # blank lines are skipped, as pandas does
        if not any(header):
            raise DataError(f"{role} {name} is empty; it needs a header row and at least {min_rows} row(s)")
        for i, h in enumerate(header):
            if not h:
                raise DataError(f"{role} {name}: column {i + 1} of the header has no name (a saved index? write the "
                                "CSV with index=False, or name the column)")
            if header.index(h) != i:
                raise DataError(f"{role} {name}: column {h!r} appears twice in the header (columns "
                                f"{header.index(h) + 1} and {i + 1}); rename or delete one of them")
        rows = []
        for row in reader:
            if len(row) != len(header) and row:
                raise DataError(f"{role} {name}: the row ending on line {reader.line_num} has {len(row)} field(s) but "
                                f"the header has {len(header)}; fix that row (a value with a comma must be quoted)")
            if row:
                rows.append(row)
    except csv.Error as e:
        raise DataError(f"{role} {name} is not a readable CSV: {e} (line {reader.line_num}). {fix}") from None
    if len(rows) < min_rows:
        need = ("a synthetic table needs at least 1 row" if min_rows == MIN_SYNTHETIC_ROWS else
                f"a real table needs at least {min_rows} rows for its train/holdout split")
        got = "a header but no rows" if not rows else f"{len(rows)} row(s)"
        raise DataError(f"{role} {name} has {got}; {need}")
    return pd.DataFrame(rows, columns=header, dtype=object)


def _examples(values: pd.Series, k: int = 3) -> str:
    return ", ".join(show(v) for v in pd.unique(values)[:k])


def conform(df: pd.DataFrame, spec: DatasetSpec, *, source: str = "data") -> pd.DataFrame:
    """Type ``df`` by ``spec``: numeric columns to float, categories to their spec strings.

    Every mismatch is collected and reported at once, with counts and examples.

    Raises:
        DataError: missing/extra columns, unknown categories, non-numeric or out-of-range values,
            missing values in a non-nullable column.
    """
    problems: list[str] = []
    cols = [str(c).strip() for c in df.columns]
    df = df.set_axis(cols, axis=1)
    missing = [c for c in spec.column_names if c not in cols]
    extra = [c for c in cols if c not in spec.column_names and c not in spec.id_columns]
    if missing and len(missing) == len(spec.column_names):
        problems.append(f"its header ({', '.join(cols)}) has none of the spec's columns ({', '.join(spec.column_names)}); "
                        "is this the table the spec describes?")
    elif missing:
        problems.append(f"missing columns {missing}")
    if extra and len(missing) < len(spec.column_names):
        problems.append(f"extra columns not in the spec {extra} (add them to the spec, list them in id_columns, or drop them)")
    out = {}
    for col in spec.columns:
        if col.name not in cols:
            continue
        s = df[col.name]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            s = s.astype(object).map(lambda v: np.nan if isinstance(v, str) and v.strip() in _MISSING else v)
        na = s.isna()
        if na.any() and not col.nullable:
            problems.append(f"column {col.name!r}: {int(na.sum())} missing value(s) but the spec says nullable: false (fill them, or set nullable: true)")
        if col.is_numeric:
            x = pd.to_numeric(s, errors="coerce")
            bad = x.isna() & ~na
            if bad.any():
                problems.append(f"column {col.name!r}: {int(bad.sum())} non-numeric value(s), e.g. {_examples(s[bad])}")
            oor = (x < col.min) | (x > col.max)
            if oor.any():
                problems.append(f"column {col.name!r}: {int(oor.sum())} value(s) outside the spec range "
                                f"[{show(col.min)}, {show(col.max)}], e.g. {_examples(s[oor])}")
            out[col.name] = x.astype(float)
        else:
            c = s.map(lambda v, cats=col.categories: as_category(v, cats), na_action="ignore")
            bad = c.notna() & ~c.isin(col.categories)
            if bad.any():
                problems.append(f"column {col.name!r}: {int(bad.sum())} value(s) not in categories {show(col.categories)}, "
                                f"e.g. {_examples(c[bad])}")
            out[col.name] = c.astype(object)
    if problems:
        raise DataError(f"{source} does not match spec {spec.name!r} ({len(problems)} problem(s)):\n"
                        + "\n".join(f"  - {p}" for p in problems)
                        + "\nFix the data, or edit the spec (draft one with `synllm spec infer data.csv`).")
    return pd.DataFrame(out, index=range(len(df)))[spec.column_names]


def load_data(spec: DatasetSpec, data: str | Path | None = None) -> pd.DataFrame:
    """The real table for ``spec``, typed and checked: from ``data`` if given, else built in."""
    if data:
        raw = read_csv(data, min_rows=MIN_REAL_ROWS)
        source = f"data file {show(str(data))}"
    elif spec.builtin_data:
        raw = BUILTIN_LOADERS[spec.builtin_data]()
        source = f"built-in data {spec.builtin_data!r}"
    else:
        raise DataError(f"dataset {spec.name!r} has no built-in data (its licence or size keeps it out of the "
                        f"package); pass data=<path to the CSV>, e.g. `synllm main --dataset {spec.name} "
                        f"--data {spec.name}.csv`")
    df = conform(raw, spec, source=source)
    if len(df) < MIN_REAL_ROWS:
        raise DataError(f"{source} has {len(df)} row(s); a real table needs at least {MIN_REAL_ROWS} rows for its "
                        "train/holdout split")
    return df


def data_digest(df: pd.DataFrame, key: bytes | None = None) -> str:
    """A stable digest of the real table's content (logged instead of its rows).

    Unkeyed, anyone holding a candidate table can check it against the digest (the table with and
    without one patient give different digests); a DP run therefore logs the keyed form, an HMAC under
    a key that is never logged, which says nothing to whoever lacks the key.
    """
    content = pd.util.hash_pandas_object(df.astype(str), index=False).values.tobytes()
    if key is None:
        return hashlib.sha256(content).hexdigest()[:16]
    return hmac.new(key, content, hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Split:
    """A keyed, per-row train/holdout split of the real table (see :func:`split_data`)."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    seed: int
    holdout_fraction: float


_SPLIT_DOMAIN = b"synllm-split-v1"


def split_key(seed: int, holdout_fraction: float) -> bytes:
    """The split's HMAC key: a function of the run's seed and the holdout fraction (both logged).

    Not secret: anyone with the seed can recompute which side a given row is on. The key only makes the
    side of each row a pseudo-random function of that row, so different seeds give independent splits and
    a split of the holdout (``holdout_fraction=0.5``) is independent of the split that made it.
    """
    return hmac.new(_SPLIT_DOMAIN, f"{int(seed)}:{float(holdout_fraction)!r}".encode(), hashlib.sha256).digest()


def row_sides(df: pd.DataFrame, spec: DatasetSpec, *, seed: int = 0, holdout_fraction: float = 0.2) -> np.ndarray:
    """Whether each row of ``df`` goes to holdout: ``HMAC(split_key, row key) / 2**64 < holdout_fraction``.

    A row's side depends on that row (its :func:`~synllm_mlops.spec.row_key`, the copy guard's notion of
    "the same row"), the seed and the fraction, never on the other rows: adding or removing one patient
    of the CSV adds or removes that one row of train or of holdout and moves no other row.
    """
    key = split_key(seed, holdout_fraction)
    keys = key_frame(df, spec).itertuples(index=False, name=None)
    u = np.fromiter((int.from_bytes(hmac.new(key, "\x1f".join(k).encode(), hashlib.sha256).digest()[:8], "big")
                     for k in keys), dtype=np.float64, count=len(df))
    return u / 2.0**64 < holdout_fraction


def split_data(df: pd.DataFrame, spec: DatasetSpec, *, seed: int = 0, holdout_fraction: float = 0.2) -> Split:
    """Split ``df`` into train and holdout, row by row (:func:`row_sides`): one patient moves at most one row.

    Neighbouring tables for differential privacy are "one patient more or less in the CSV"; a seeded
    shuffle (or any split that sorts, stratifies or counts) lets that one patient move many other rows
    between train and holdout, so releases from train would change by more than their stated sensitivity.
    The split is therefore not stratified: each side holds about ``holdout_fraction`` of every class, by
    the law of large numbers, not exactly. Rows keep their order within each side.

    Raises:
        DataError: ``holdout_fraction`` outside (0, 1), or a side left empty (a table too small for it).
    """
    if not 0 < holdout_fraction < 1:
        raise DataError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    hold = row_sides(df, spec, seed=seed, holdout_fraction=holdout_fraction)
    if hold.all() or not hold.any():
        side = "train" if hold.all() else "holdout"
        raise DataError(f"the train/holdout split of {len(df)} rows at holdout_fraction={holdout_fraction} and seed={seed} "
                        f"left {side} empty (each row's side is drawn by a keyed hash of that row alone); use more "
                        "rows, another seed or a holdout_fraction nearer 0.5")
    return Split(df[~hold].reset_index(drop=True), df[hold].reset_index(drop=True), seed, holdout_fraction)
