"""Parsing and validation of completions into typed rows, with rejects and a privacy guard."""

from synllm_mlops.parsing._nearcopy import NearCopyIndex, masked_keys, max_diff
from synllm_mlops.parsing._parse import REJECT_COLUMNS, ParseResult, RowParser
from synllm_mlops.spec import row_key, table_keys  # the one row identity, shared with the privacy metrics

__all__ = ["REJECT_COLUMNS", "NearCopyIndex", "ParseResult", "RowParser", "masked_keys", "max_diff", "row_key",
           "table_keys"]
