from synllm_mlops.parsing import RowParser, table_keys
from synllm_mlops.prompts import format_rows


def test_parse_valid_and_rejects_with_reasons(cirrhosis):
    spec, real, split = cirrhosis
    good = format_rows(split.train.head(2), spec).splitlines()
    text = "\n".join([
        "```csv", ",".join(spec.column_names),  # fence + header are skipped/flagged, not rows
        good[0].replace(",F,", ",Q,").replace(",M,", ",Q,"),  # unknown category
        "1,2,3",  # field count
        ",".join(good[1].split(",")[:9] + ["abc"] + good[1].split(",")[10:]),  # non-numeric bilirubin
        ",".join(good[1].split(",")[:11] + ["9.99"] + good[1].split(",")[12:]),  # albumin out of range
    ])
    res = RowParser(spec).parse([text])
    reasons = res.rejects["reason"].tolist()
    assert "unknown category" in reasons and "field count" in reasons
    assert "non-numeric" in reasons and "out of range" in reasons
    assert len(res.rows) == 0


def test_privacy_guard_rejects_real_rows_and_never_stores_them(cirrhosis):
    spec, real, split = cirrhosis
    keys = {k: "train" for k in table_keys(split.train, spec)}
    keys.update({k: "holdout" for k in table_keys(split.holdout, spec)})
    copies = format_rows(split.train.head(5), spec).splitlines() + format_rows(split.holdout.head(2), spec).splitlines()
    res = RowParser(spec, keys).parse(["\n".join(copies)])
    assert len(res.rows) == 0 and res.copy_rejects == 7
    assert res.rejects["reason"].value_counts().to_dict() == {"copy of a real train row": 5, "copy of a real holdout row": 2}
    assert set(res.rejects["line"]) == {"<redacted>"}


def test_guard_normalises_types(cirrhosis):
    """'14.50' and '14.5' are the same bilirubin; 'NA' equals a missing value."""
    spec, real, split = cirrhosis
    keys = {k: "train" for k in table_keys(split.train, spec)}
    row = format_rows(split.train.head(1), spec).split(",")
    row = [f"{float(v)}0" if (v.replace(".", "").isdigit() and "." in v) else v for v in row]  # extra trailing zero
    res = RowParser(spec, keys).parse([",".join(row)])
    assert res.copy_rejects == 1


def test_hard_rule_violation_is_rejected(cirrhosis):
    from synllm_mlops.spec import load_data, load_spec

    bc = load_spec("breast_cancer")
    # radius_mean > radius_worst breaks a hard ordering rule
    df = load_data(bc).head(1).copy()
    df["radius_mean"], df["radius_worst"] = 20.0, 10.0
    res = RowParser(bc).parse([format_rows(df, bc)])
    assert len(res.rows) == 0 and res.rejects["reason"].tolist() == ["hard-rule violation"]
    assert "radius_mean_le_worst" in res.rejects["detail"].iloc[0]


def test_parsed_types(cirrhosis):
    spec, _, split = cirrhosis
    res = RowParser(spec).parse([format_rows(split.train.head(10), spec)])
    assert len(res.rows) == 10
    assert res.rows["Bilirubin"].dtype == float and res.rows["Status"].dtype == object
    assert res.rows["Drug"].isna().sum() == split.train.head(10)["Drug"].isna().sum()


def test_an_integral_float_code_parses_as_its_category_as_the_real_data_loads(cirrhosis):
    spec, real, split = cirrhosis
    row = format_rows(split.train.head(1), spec).splitlines()[0].split(",")
    stage = spec.column_names.index("Stage")
    fields = {"4.0": "4", "2.": "2"}
    for written, want in fields.items():
        res = RowParser(spec).parse([",".join(row[:stage] + [written] + row[stage + 1:])])
        if len(res.rows):  # a hard rule may reject the row; the category itself must not be the reason
            assert res.rows["Stage"].iloc[0] == want
        assert "unknown category" not in res.rejects["reason"].tolist()
    res = RowParser(spec).parse([",".join(row[:stage] + ["4.5"] + row[stage + 1:])])
    assert res.rejects["detail"].tolist() == ["Stage='4.5' not in ['1', '2', '3', '4']"]
