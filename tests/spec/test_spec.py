import re

import numpy as np
import pandas as pd
import pytest

from synllm_mlops.errors import DataError, SpecError, UnknownNameError
from synllm_mlops.spec import builtin_specs, conform, draft_spec, infer_spec, load_data, load_spec, split_data


def test_builtin_specs_load_and_match_contract_names():
    assert set(builtin_specs()) >= {"cirrhosis", "diabetes", "stroke", "breast_cancer"}
    c = load_spec("cirrhosis")
    assert c.column_names[:5] == ["N_Days", "Status", "Drug", "Age", "Sex"]
    assert c.column("Status").categories == ["C", "CL", "D"]
    assert c.column("Edema").categories == ["N", "S", "Y"]
    assert c.id_columns == ["ID"] and c.target == "Status"
    for name in builtin_specs():
        spec = load_spec(name)
        assert all(r.note for r in spec.rules), f"{name}: every rule needs a source note"


def test_cirrhosis_builtin_data_keeps_missingness():
    spec = load_spec("cirrhosis")
    df = load_data(spec)
    assert df.shape == (418, 19)
    assert df["Drug"].isna().sum() == 106  # the non-randomised patients
    assert set(df["Status"].dropna()) == {"C", "CL", "D"}
    assert df["Age"].between(9000, 30000).all()


def test_breast_cancer_builtin():
    spec = load_spec("breast_cancer")
    df = load_data(spec)
    assert len(df) == 569 and set(df["diagnosis"]) == {"B", "M"}


@pytest.mark.parametrize("name", ["diabetes", "stroke"])
def test_kaggle_tables_need_data_and_say_so(name):
    with pytest.raises(DataError, match=r"pass data=<path to the CSV>"):
        load_data(load_spec(name))


def test_unknown_dataset_lists_choices():
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'cirrhosys'; choose one of: breast_cancer, cirrhosis"):
        load_spec("cirrhosys")


def test_missing_spec_file():
    with pytest.raises(SpecError, match="does not exist"):
        load_spec("nope/spec.yaml")


def test_spec_schema_errors_are_listed(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ntarget: y\ncolumns:\n  - {name: a, type: numeric, min: 0, max: 1, colour: red}\n")
    with pytest.raises(SpecError) as e:
        load_spec(p)
    msg = str(e.value)
    assert "columns[0] 'a'.colour: unknown key 'colour'; allowed keys: name, type" in msg


def test_malformed_csv(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b'a,b\n1,"unterminated\n2,3\n')
    with pytest.raises(DataError, match="not a readable CSV"):
        load_data(load_spec("diabetes"), p)


def test_data_mismatch_reports_every_problem_with_counts(tmp_path):
    spec = load_spec("diabetes")
    df = pd.DataFrame({
        "gender": ["Female", "Alien", "Male"] * 5, "age": ["30", "abc", "200"] * 5, "hypertension": ["0"] * 15,
        "heart_disease": ["0"] * 15, "smoking_history": ["never"] * 15, "bmi": ["25"] * 15,
        "HbA1c_level": ["5.5"] * 15, "blood_glucose_level": ["100"] * 15, "extra_col": ["x"] * 15,
    })
    p = tmp_path / "d.csv"
    df.to_csv(p, index=False)
    with pytest.raises(DataError) as e:
        load_data(spec, p)
    msg = str(e.value)
    assert "missing columns ['diabetes']" in msg
    assert "extra columns not in the spec ['extra_col']" in msg
    assert "column 'gender': 5 value(s) not in categories" in msg and "'Alien'" in msg
    assert "column 'age': 5 non-numeric value(s)" in msg
    assert "column 'age': 5 value(s) outside the spec range" in msg


def test_split_is_seeded_and_disjoint(cirrhosis):
    spec, real, _ = cirrhosis
    a = split_data(real, spec, seed=3)
    b = split_data(real, spec, seed=3)
    c = split_data(real, spec, seed=4)
    pd.testing.assert_frame_equal(a.train, b.train)
    assert not a.train.equals(c.train)
    # per-row coin flips: the holdout size is Binomial(418, 0.2), 84 +- 8.2 (sd); 4 sd either side
    assert len(a.train) + len(a.holdout) == len(real) and abs(len(a.holdout) - 0.2 * len(real)) < 33


def test_infer_spec_drafts_a_usable_spec(small_csv):
    spec = infer_spec(small_csv, target="outcome")
    assert spec.id_columns == ["patient_id"]
    assert spec.column("sbp").type == "numeric" and spec.column("sex").categories == ["F", "M"]
    df = load_data(spec, small_csv)  # works right away
    assert len(df) == 60


def _write(tmp_path, df):
    p = tmp_path / "t.csv"
    df.to_csv(p, index=False)
    return p


def test_infer_spec_never_writes_observed_extremes(tmp_path):
    rng = np.random.default_rng(0)
    temp = np.round(rng.uniform(37.2, 40.0, 80), 3)
    temp[[5, 9]] = [37.123, 41.987]
    path = _write(tmp_path, pd.DataFrame({"temp": temp, "n_days": rng.integers(41, 4795, 80), "y": ["0", "1"] * 40}))
    spec = infer_spec(path)
    text = spec.to_yaml()
    for v in ("37.123", "41.987", f"{temp.min():g}", f"{temp.max():g}"):
        assert v not in text
    t = spec.column("temp")
    assert (t.min, t.max) == (30.0, 50.0)  # each bound outward to one significant figure
    d = spec.column("n_days")
    assert d.max > 4794 and (d.min, d.max) == (0.0, 5000.0)  # non-negative, minimum under a tenth of the maximum
    assert len(load_data(spec, path)) == 80  # every real value lies inside its range


def test_infer_spec_drops_identifier_like_text_columns_with_a_message(tmp_path, caplog):
    n = 60
    df = pd.DataFrame({"mrn": [f"MRN{100000 + 7 * i}" for i in range(n)],
                       "name": [f"Patient {chr(65 + i % 26)}{i}" for i in range(n)],
                       "empty": [""] * n, "sex": ["F", "M"] * (n // 2), "age": np.arange(20, 20 + n),
                       "outcome": ["0", "1", "1"] * (n // 3)})
    path = _write(tmp_path, df)
    draft = draft_spec(path)
    assert draft.spec.column_names == ["sex", "age", "outcome"]
    assert draft.spec.id_columns == ["mrn", "name", "empty"]
    text = draft.spec.to_yaml()
    assert "MRN100" not in text and "Patient A" not in text
    name_msg = next(m for m in draft.messages if "'name'" in m)
    assert "identifier" in name_msg and "more than 50 distinct values" in name_msg and "keep=['name']" in name_msg
    assert not any(re.search(r"\b60\b", m) for m in draft.messages)  # no row count, here or in the spec
    assert any("'empty'" in m and "no values" in m for m in draft.messages)
    assert len(load_data(draft.spec, path)) == n  # dropped columns load as id columns
    kept = draft_spec(path, keep=["name"]).spec
    assert "name" in kept.column_names and "name" not in kept.id_columns
    with caplog.at_level("WARNING"):
        infer_spec(path)
    assert "'mrn'" in caplog.text  # infer_spec (the CLI's call) logs the messages


def test_infer_spec_copies_no_observed_value(tmp_path):
    """Finding 5 of issue 22: rare integers, a zip code, free text, dates, a singleton diagnosis, a near-unique id."""
    n = 201
    rng = np.random.default_rng(1)
    age = rng.choice(np.arange(60, 70), n)  # 10 distinct ages, each held by many rows ...
    age[17] = 103  # ... and one centenarian
    admissions = rng.choice([0, 1, 2, 3], n)
    admissions[40] = 57
    zips = rng.choice([10001, 10002, 10003, 20001], n)
    zips[99] = 99950
    notes = [""] * n
    notes[5] = "pt Ann Lee HIV+ lives at 0 Oak St"
    notes[6] = "stable"
    dates = [f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)]
    dx = rng.choice(["asthma", "copd", "diabetes"], n).astype(object)
    dx[150] = "kuru"
    hospital = np.arange(700000, 700000 + n)
    hospital[3] = hospital[4]  # not quite unique
    sbp = np.round(rng.normal(130, 12, n), 1)
    sbp[8] = 211.7
    path = _write(tmp_path, pd.DataFrame({
        "hospital_number": hospital, "age": age, "admissions": admissions, "zip": zips, "notes": notes,
        "admitted_on": dates, "diagnosis": dx, "sbp": sbp, "outcome": rng.choice(["0", "1"], n)}))
    draft = draft_spec(path)
    text = draft.spec.to_yaml()
    for value in ("103", "57", "99950", "Ann Lee", "HIV", "Oak St", "2021-", "kuru", "700000", "211.7",
                  f"{sbp.min():g}", "201"):
        assert not re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", text), value
    assert set(draft.spec.id_columns) == {"hospital_number", "notes", "admitted_on", "diagnosis"}
    assert draft.spec.column("age").type == "numeric" and draft.spec.column("age").max == 200.0
    assert draft.spec.column("admissions").type == "numeric" and draft.spec.column("admissions").max == 60.0
    assert draft.spec.column("zip").type == "numeric" and draft.spec.column("zip").max == 100000.0
    assert draft.spec.column("sbp").max == 300.0 and draft.spec.column("outcome").categories == ["0", "1"]
    why = {c: next(m for m in draft.messages if f"'{c}'" in m) for c in
           ("hospital_number", "notes", "admitted_on", "diagnosis", "age", "admissions", "zip")}
    assert "nearly unique" in why["hospital_number"] and "free text" in why["notes"]
    assert "dates" in why["admitted_on"] and "fewer than 5 rows" in why["diagnosis"]
    assert all("kept numeric" in why[c] for c in ("age", "admissions", "zip"))
    assert not any(v in m for m in draft.messages for v in ("103", "kuru", "Ann", "201 rows"))
    assert len(load_data(draft.spec, path)) == n  # every real value still loads
    kept = draft_spec(path, keep=["diagnosis"])
    assert "kuru" in kept.spec.column("diagnosis").categories  # the user's explicit choice, and it says so
    assert any("'diagnosis' kept as asked" in m for m in kept.messages)


def test_infer_spec_huge_and_infinite_values(tmp_path):
    big = _write(tmp_path, pd.DataFrame({"x": [f"{v}e300" for v in np.linspace(1.0, 9.0, 30)], "y": ["0", "1"] * 15}))
    # the grammar writes integers of the column's precision: beyond 2^53 units a float cannot say which
    with pytest.raises(DataError, match=r"column 'x' holds values as large as '9.0e300'.*rescale the column"):
        infer_spec(big)
    ok = _write(tmp_path, pd.DataFrame({"x": [f"{v}e12" for v in np.linspace(1.0, 9.0, 30)], "y": ["0", "1"] * 15}))
    col = infer_spec(ok).column("x")
    assert col.min == 0.0 and col.max > 9e12 and np.isfinite(col.max)
    inf = _write(tmp_path, pd.DataFrame({"x": ["1.5", "inf", "2.5"] * 10, "y": ["0", "1", "0"] * 10}))
    with pytest.raises(DataError, match="column 'x' holds infinite values .*replace them with NA"):
        infer_spec(inf)


def test_rules_evaluate_on_tables():
    from synllm_mlops.spec import ImplicationRule, OrderingRule, RangeRule

    df = pd.DataFrame({"a": [1.0, 5.0, None], "b": [2.0, 1.0, 0.0], "c": ["Y", "Y", "N"]})
    assert RangeRule(id="r", note="n", column="a", min=0, max=2).violations(df).tolist() == [False, True, False]
    assert OrderingRule(id="o", note="n", left="a", op="<=", right="b").violations(df).tolist() == [False, True, False]
    imp = ImplicationRule.model_validate({"id": "i", "note": "n", "if": {"column": "c", "op": "==", "value": "Y"},
                                          "then": {"column": "a", "op": "<", "value": 3}})
    assert imp.violations(df).tolist() == [False, True, False]


def test_conform_normalises_float_categories():
    spec = load_spec("cirrhosis")
    raw = load_data(spec).head(3).astype(object)
    raw["Stage"] = [4.0, 3.0, None]
    out = conform(raw, spec)
    assert out["Stage"].tolist()[:2] == ["4", "3"] and pd.isna(out["Stage"].iloc[2])
