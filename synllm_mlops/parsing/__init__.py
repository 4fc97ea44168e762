"""Parsing and validation of completions into typed rows, with rejects and a privacy guard."""

from synllm_mlops.parsing._nearcopy import NearCopyIndex
from synllm_mlops.parsing._parse import REJECT_COLUMNS, ParseResult, RowParser, row_key, table_keys

__all__ = ["REJECT_COLUMNS", "NearCopyIndex", "ParseResult", "RowParser", "row_key", "table_keys"]
