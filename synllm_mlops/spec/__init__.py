"""Dataset specs: schema, clinical rules, real-data loading, checking and splitting."""

from synllm_mlops.spec._data import (
    MIN_REAL_ROWS,
    MIN_SYNTHETIC_ROWS,
    Split,
    builtin_specs,
    conform,
    data_digest,
    load_data,
    load_spec,
    read_csv,
    split_data,
)
from synllm_mlops.spec._infer import SpecDraft, draft_spec, infer_spec
from synllm_mlops.spec._schema import (
    NA_TOKEN,
    AllowedRule,
    ColumnSpec,
    Condition,
    DatasetSpec,
    ImplicationRule,
    OrderingRule,
    RangeRule,
    Rule,
    as_category,
    is_missing,
    key_frame,
    normalise_category,
    row_key,
    table_keys,
)

__all__ = [
    "MIN_REAL_ROWS", "MIN_SYNTHETIC_ROWS", "NA_TOKEN", "AllowedRule", "ColumnSpec", "Condition", "DatasetSpec", "ImplicationRule", "OrderingRule",
    "RangeRule", "Rule", "SpecDraft", "as_category", "Split", "builtin_specs", "conform", "data_digest", "draft_spec", "infer_spec",
    "is_missing", "key_frame", "load_data", "load_spec", "normalise_category", "read_csv", "row_key", "split_data",
    "table_keys",
]
