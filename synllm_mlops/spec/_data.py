"""Load a spec and its real table, check one against the other, split train/holdout."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from synllm_mlops.errors import DataError, SpecError, unknown
from synllm_mlops.spec._builtin import BUILTIN_LOADERS
from synllm_mlops.spec._schema import NA_TOKEN, DatasetSpec, normalise_category

SPEC_DIR = Path(__file__).parent / "specs"
_MISSING = {"", "NA", "N/A", "NaN", "nan", "null", "None", "?"}


def builtin_specs() -> list[str]:
    """Names of the specs that ship with the package."""
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def load_spec(dataset: str | Path) -> DatasetSpec:
    """Load a built-in spec by name, or a spec YAML by path.

    Raises:
        SpecError: the file is missing, not YAML, or breaks the spec schema (every problem listed).
    """
    name = str(dataset)
    path = SPEC_DIR / f"{name}.yaml" if name in builtin_specs() else Path(name)
    if not path.is_file():
        if name.endswith((".yaml", ".yml")) or "/" in name:
            raise SpecError(f"spec file {name!r} does not exist; pass a built-in dataset "
                            f"({', '.join(builtin_specs())}) or the path to a spec YAML")
        raise unknown("dataset", name, builtin_specs() + ["<path/to/spec.yaml>"])
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise SpecError(f"spec {path} is not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise SpecError(f"spec {path} must be a YAML mapping with keys name, target, columns, ...; got {type(raw).__name__}")
    try:
        return DatasetSpec.model_validate(raw)
    except ValidationError as e:
        lines = [f"  - {'.'.join(map(str, err['loc'])) or '<root>'}: {err['msg']}" for err in e.errors()]
        raise SpecError(f"spec {path} does not match the spec schema ({len(lines)} problem(s)):\n"
                        + "\n".join(lines) + "\nFix the YAML (see synllm_mlops/spec/specs/ for examples).") from e


def read_csv(path: str | Path) -> pd.DataFrame:
    """Read a CSV as strings (typing happens against the spec), with clear errors."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"data file {str(path)!r} does not exist; pass data=<path to a CSV file>")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise DataError(f"data file {str(path)!r} is not a readable CSV: {e}. "
                        "Fix: save it as comma-separated UTF-8 with one header row.") from e
    if df.empty:
        raise DataError(f"data file {str(path)!r} has a header but no rows; it needs at least 10 rows")
    return df


def _examples(values: pd.Series, k: int = 3) -> str:
    return ", ".join(repr(v) for v in pd.unique(values)[:k])


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
    if missing:
        problems.append(f"missing columns {missing}")
    if extra:
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
            problems.append(f"column {col.name!r}: {int(na.sum())} missing value(s) but the spec says nullable: false")
        if col.is_numeric:
            x = pd.to_numeric(s, errors="coerce")
            bad = x.isna() & ~na
            if bad.any():
                problems.append(f"column {col.name!r}: {int(bad.sum())} non-numeric value(s), e.g. {_examples(s[bad])}")
            oor = (x < col.min) | (x > col.max)
            if oor.any():
                problems.append(f"column {col.name!r}: {int(oor.sum())} value(s) outside the spec range "
                                f"[{col.min}, {col.max}], e.g. {_examples(x[oor])}")
            out[col.name] = x.astype(float)
        else:
            c = s.map(normalise_category)
            bad = c.notna() & ~c.isin(col.categories)
            if bad.any():
                problems.append(f"column {col.name!r}: {int(bad.sum())} value(s) not in categories {col.categories}, "
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
        raw = read_csv(data)
        source = f"data file {str(data)!r}"
    elif spec.builtin_data:
        raw = BUILTIN_LOADERS[spec.builtin_data]()
        source = f"built-in data {spec.builtin_data!r}"
    else:
        raise DataError(f"dataset {spec.name!r} has no built-in data (its licence or size keeps it out of the "
                        f"package); pass data=<path to the CSV>, e.g. `synllm main --dataset {spec.name} "
                        f"--data {spec.name}.csv`")
    df = conform(raw, spec, source=source)
    if len(df) < 10:
        raise DataError(f"{source} has {len(df)} rows; at least 10 are needed for a train/holdout split")
    return df


def data_digest(df: pd.DataFrame) -> str:
    """A stable digest of the real table's content (logged instead of its rows)."""
    h = hashlib.sha256(pd.util.hash_pandas_object(df.astype(str), index=False).values.tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Split:
    """A seeded train/holdout split of the real table."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    seed: int
    holdout_fraction: float


def split_data(df: pd.DataFrame, spec: DatasetSpec, *, seed: int = 0, holdout_fraction: float = 0.2) -> Split:
    """Split ``df`` into train and holdout, stratified on a categorical target where possible."""
    from sklearn.model_selection import train_test_split

    if not 0 < holdout_fraction < 1:
        raise DataError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    strat = None
    if spec.target_is_categorical:
        y = df[spec.target].fillna(NA_TOKEN)
        if y.value_counts().min() >= 2:
            strat = y
    tr, ho = train_test_split(df, test_size=holdout_fraction, random_state=seed, stratify=strat)
    return Split(tr.reset_index(drop=True), ho.reset_index(drop=True), seed, holdout_fraction)
