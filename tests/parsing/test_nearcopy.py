"""The near-copy index: known answers against brute force, and what the parser does with what it finds."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from synllm_mlops.parsing import NearCopyIndex, RowParser, masked_keys, max_diff, table_keys
from synllm_mlops.parsing._nearcopy import cell_token, tokens
from synllm_mlops.prompts import format_rows


@pytest.mark.parametrize("k", [4, 6, 8, 12])
def test_the_index_agrees_with_brute_force_on_tables_full_of_repeats(cirrhosis, k):
    """Few distinct values (many rows share values, rows repeat values): the pigeonhole filing loses nothing."""
    spec, _, _ = cirrhosis
    spec = spec.model_copy(update={"columns": spec.columns[:k], "rules": []})
    rng = np.random.default_rng(k)
    real = [tuple(str(v) for v in rng.integers(0, 6, k)) for _ in range(300)]
    index = NearCopyIndex(real, spec)
    d = max_diff(k)
    queries = [tuple(str(v) for v in rng.integers(0, 6, k)) for _ in range(300)]
    for r in real[:100]:  # real rows with 0..d+1 values changed, shuffled
        q = list(r)
        for j in rng.choice(k, size=int(rng.integers(0, d + 2)), replace=False):
            q[j] = str(int(rng.integers(6, 9)))
        queries.append(tuple(rng.permutation(q)))
    bags = [Counter(r) for r in real]
    for q in queries:
        want = any(sum((Counter(q) & b).values()) >= k - d for b in bags)
        assert index.near(q) == want, q
        assert bool(masked_keys(q) & set().union(*(masked_keys(r) for r in real))) == want  # the served guard's way


def test_values_are_read_the_same_in_any_format():
    assert tokens("1,40; 12 mg/dl; NULL; None; n/a; F", decimal_comma=True) == \
        ["1.4", "12.0", "mg/dl", "na", "na", "na", "f"]
    assert tokens('{"Age": 61.50, "Sex": "F", "x": null}') == ["age", "61.5", "sex", "f", "x", "na"]
    assert tokens("1,,3") == ["1.0", "na", "3.0"]  # an empty field is a missing value
    assert [cell_token(c) for c in ("1.40", "NA", "never smoked", "D-penicillamine", "4")] == \
        ["1.4", "na", "never_smoked", "d-penicillamine", "4.0"]


def test_the_parser_rejects_two_changed_values_and_redacts_reject_lines_that_hold_a_real_row(cirrhosis):
    spec, real, split = cirrhosis
    keys = {k: "train" for k in table_keys(split.train, spec)}
    parser = RowParser(spec, keys, NearCopyIndex(keys, spec))
    line = format_rows(split.train.iloc[[7]], spec).strip()
    f = line.split(",")
    num = [j for j, c in enumerate(spec.columns) if c.is_numeric and f[j] != "NA"]

    def changed(n):
        g = f.copy()
        for j in num[:n]:
            g[j] = f"{float(f[j]) * 1.05 + 1:.{spec.columns[j].decimals}f}"
        return ",".join(g)

    res = parser.parse([changed(2)])
    assert len(res.rows) == 0 and res.near_copy_rejects == 1 and res.rejects["line"].tolist() == ["<redacted>"]
    res = parser.parse([changed(3)])
    assert len(res.rows) + len(res.rejects) == 1 and res.near_copy_rejects == 0  # three changed: another row
    half = len(f) // 2
    text = "\n".join(["Here are the rows:", ",".join(f[:half]), ",".join(f[half:]).lower(), "1,2,3"])
    res = parser.parse([text])
    assert res.rejects["line"].tolist() == ["Here are the rows:", "<redacted>", "<redacted>", "1,2,3"]
    assert "redacted" in res.rejects["detail"].iloc[1]
    assert parser.parse([format_rows(split.holdout.head(20), spec)]).near_copy_rejects == 0  # other patients


def test_a_served_guard_is_used_through_near_alone(cirrhosis):
    """A near-copy check without ``flag_lines`` (a served model's keyed digests): rows rejected, lines kept as is."""
    spec, real, split = cirrhosis

    class Near:
        def near(self, key):
            return key[0] == "4427"

    line = format_rows(split.train.iloc[[2]], spec).strip()
    res = RowParser(spec, {}, Near()).parse([line.replace(",", ";", 1), line])
    assert res.near_copy_rejects == (line.split(",")[0] == "4427")
    assert "<redacted>" not in res.rejects["line"].iloc[:1].tolist()


def test_few_columns_match_exactly_and_small_differences_count_by_value_not_position():
    assert [max_diff(k) for k in (3, 5, 6, 7, 8, 19)] == [0, 0, 1, 1, 2, 2]
    row = tuple(str(i) for i in range(8))
    assert len(masked_keys(row)) == len(list(itertools.combinations(range(8), 2)))
    assert masked_keys(row) & masked_keys(tuple(reversed(row)))  # order-free
