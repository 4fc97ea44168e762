"""One set of missing-value spellings: the user's CSV and the parser of model output agree."""

from __future__ import annotations

import pandas as pd

from synllm_mlops.parsing import RowParser
from synllm_mlops.spec import MISSING_TEXTS, NA_TOKEN, DatasetSpec, conform


def _spec() -> DatasetSpec:
    return DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
        {"name": "y", "type": "categorical", "categories": ["0", "1"]},
        {"name": "x", "type": "numeric", "min": 0, "max": 9, "decimals": 0, "nullable": True}]})


def test_every_missing_spelling_is_missing_in_the_users_data_and_in_model_output():
    assert {NA_TOKEN, "", "?", "None", "null", "N/A"} <= MISSING_TEXTS
    spellings = sorted(MISSING_TEXTS)
    parsed = RowParser(_spec()).parse(["\n".join(f"1,{m}" for m in spellings) + "\n"])
    assert len(parsed.rows) == len(spellings) and parsed.rows["x"].isna().all(), parsed.rejects
    real = conform(pd.DataFrame({"y": ["1"] * len(spellings), "x": spellings}), _spec())
    assert real["x"].isna().all()
