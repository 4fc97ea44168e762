import re

import pytest

from synllm_mlops.constraints import completion_regex, int_range_regex, number_regex, row_regex
from synllm_mlops.prompts import format_rows


@pytest.mark.parametrize("lo,hi", [(0, 9), (1, 5000), (9000, 30000), (26, 457), (120, 1775), (0, 0), (7, 7), (99, 101)])
def test_int_range_regex_exact(lo, hi):
    rx = re.compile(int_range_regex(lo, hi) + r"\Z")
    for x in range(0, hi + 200):
        assert bool(rx.match(str(x))) == (lo <= x <= hi), x
    assert not rx.match("0" + str(max(lo, 1)))  # no leading zeros


def test_real_rows_match_the_grammar(cirrhosis):
    spec, real, _ = cirrhosis
    rx = re.compile(row_regex(spec) + r"\Z")
    lines = format_rows(real, spec).splitlines()
    assert all(rx.match(ln) for ln in lines)


def test_grammar_rejects_wrong_rows(cirrhosis):
    spec, real, _ = cirrhosis
    rx = re.compile(row_regex(spec) + r"\Z")
    good = format_rows(real.head(1), spec)
    fields = good.split(",")
    assert not rx.match(",".join(fields[:-1]))  # a field short
    assert not rx.match(good.replace(",F,", ",X,").replace(",M,", ",X,"))  # unknown category
    bad_age = fields.copy()
    bad_age[3] = "123456"
    assert not rx.match(",".join(bad_age))  # integer part out of range


def test_completion_regex_counts_rows(cirrhosis):
    spec, real, _ = cirrhosis
    rx = re.compile(completion_regex(spec, 3) + r"\Z")
    rows = format_rows(real.head(3), spec) + "\n"
    assert rx.match(rows)
    assert not rx.match(format_rows(real.head(2), spec) + "\n")


@pytest.mark.parametrize("lo,hi,d", [(1.5, 5.0, 2), (0.1, 30, 1), (8, 20, 1), (0, 0.5, 3), (0.05, 2.87, 3), (20, 500, 2)])
def test_number_regex_exact_at_precision(lo, hi, d):

    rx = re.compile(number_regex(lo, hi, d) + r"\Z")
    scale = 10**d
    for k in range(0, int(hi * scale) + 3 * scale):
        s = f"{k / scale:.{d}f}"
        assert bool(rx.match(s)) == (lo - 1e-9 <= k / scale <= hi + 1e-9), s
    assert not rx.match(f"{lo:.{d + 1}f}")  # wrong number of decimals
