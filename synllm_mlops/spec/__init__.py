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
    row_sides,
    split_data,
    split_key,
)
from synllm_mlops.spec._infer import SpecDraft, draft_spec, infer_spec
from synllm_mlops.spec._rules import COMPARE, Interval, is_membership, member, members, number, units
from synllm_mlops.spec._schema import (
    MISSING_TEXTS,
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
    "COMPARE", "MISSING_TEXTS", "MIN_REAL_ROWS", "MIN_SYNTHETIC_ROWS", "NA_TOKEN", "Interval", "AllowedRule", "ColumnSpec", "Condition", "DatasetSpec", "ImplicationRule", "OrderingRule",
    "RangeRule", "Rule", "SpecDraft", "as_category", "Split", "builtin_specs", "conform", "data_digest", "draft_spec", "infer_spec",
    "is_membership", "is_missing", "key_frame", "load_data", "load_spec", "member", "members", "normalise_category", "number", "read_csv", "row_key", "row_sides", "split_data", "split_key",
    "table_keys", "units",
]
