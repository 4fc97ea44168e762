"""Bad specs and bad data files, through every command that reads them: each is one clear error (exit 2,
one ``error:`` line naming the problem, the value as written and the fix), before any model loads, with
the user's files untouched. Issue 12, spec and data side."""

from __future__ import annotations

from pathlib import Path

import pytest
from _harness import Case, check_cli, check_mlproject

# a small valid spec and table: each case breaks one thing in them
SPEC = """\
name: toy
target: out
columns:
  - {name: age, type: numeric, min: 18, max: 100, decimals: 0}
  - {name: sex, type: categorical, categories: [F, M]}
  - {name: stage, type: categorical, categories: ["1", "2", "3", "4"], nullable: true}
  - {name: bili, type: numeric, min: 0.1, max: 30, decimals: 1}
  - {name: out, type: categorical, categories: ["0", "1"]}
rules:
  - {id: adult, kind: range, column: age, min: 18, max: 100, hard: true, note: adults only}
  - {id: stage4_bili, kind: implication, if: {column: stage, op: "==", value: "4"},
     then: {column: bili, op: ">=", value: 0.5}, note: advanced disease}
"""
HEADER = "age,sex,stage,bili,out"
ROWS = [f"{30 + i},{'FM'[i % 2]},{'' if i % 5 == 0 else 1 + i % 4},{1 + i / 10:.1f},{i % 2}" for i in range(20)]
DATA = "\n".join([HEADER, *ROWS]) + "\n"


def files(spec: str = SPEC, data: str | bytes = DATA, **extra: str | bytes):
    """A setup writing spec.yaml and data.csv (and any ``extra`` name -> content) into the work folder."""
    def setup(work: Path) -> None:
        for name, content in {"spec.yaml": spec, "data.csv": data, **extra}.items():
            p = work / name
            if content is None:
                p.mkdir()
            elif isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)
    return setup


def spec_with(old: str, new: str) -> str:
    assert old in SPEC, old
    return SPEC.replace(old, new)


def rule(text: str) -> str:
    return SPEC + f"  - {text}\n"


CHECK = ("spec", "check", "{work}/spec.yaml", "--data", "{work}/data.csv")
FAKE = ("--backend", "fake", "--model", "fake", "--n-rows", "4")


def main(*extra: str) -> tuple[str, ...]:
    return ("main", "--dataset", "{work}/spec.yaml", "--data", "{work}/data.csv", *FAKE, *extra)


def generate() -> tuple[str, ...]:
    return ("generate", "--dataset", "{work}/spec.yaml", "--data", "{work}/data.csv", *FAKE)


def evaluate(synthetic: str = "{work}/syn.csv") -> tuple[str, ...]:
    return ("evaluate", "--synthetic", synthetic, "--dataset", "{work}/spec.yaml", "--data", "{work}/data.csv")


def big_column(values: list[str]) -> str:
    return "a,y\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate(values))


CASES = [
    # --- spec infer ---------------------------------------------------------------------------------------------
    Case("infer-huge-values", ("spec", "infer", "{work}/t.csv"), "holds values as large as", "'30e300'",
         "rescale the column", files(**{"t.csv": big_column([f"{k}e300" for k in range(1, 31)])})),
    Case("infer-infinite-values", ("spec", "infer", "{work}/t.csv"), "holds infinite values", "'1e400'",
         "replace them with NA or a number", files(**{"t.csv": big_column(["1e400", "2", "3"] * 10)})),
    Case("infer-empty-target", ("spec", "infer", "{work}/t.csv", "--target", "a"), "has no values", "'a'",
         "pass --target", files(**{"t.csv": big_column([""] * 12)})),
    Case("infer-unknown-target", ("spec", "infer", "{work}/data.csv", "--target", "nope"), "is not a column",
         "'nope'", "choose one of: age, sex", files()),
    Case("infer-output-directory", ("spec", "infer", "{work}/data.csv", "-o", "{work}/out"), "is a directory",
         "{work}/out", "pass a file path", files(out=None)),
    Case("infer-output-is-input", ("spec", "infer", "{work}/data.csv", "-o", "{work}/data.csv"),
         "is the input data file", "{work}/data.csv", "pass another path", files()),
    Case("infer-output-is-input-force", ("spec", "infer", "{work}/data.csv", "-o", "{work}/data.csv", "--force"),
         "is the input data file", "{work}/data.csv", "pass another path", files()),
    Case("infer-output-not-a-spec", ("spec", "infer", "{work}/data.csv", "-o", "{work}/notes.txt"),
         "exists and is not a spec YAML", "{work}/notes.txt", "--force to overwrite", files(**{"notes.txt": "mine"})),
    Case("infer-output-folder-missing", ("spec", "infer", "{work}/data.csv", "-o", "{work}/no/spec.yaml"),
         "does not exist", "{work}/no", "create it first", files()),
    Case("infer-comma-in-header", ("spec", "infer", "{work}/t.csv"), "contains a comma", "'a,b'",
         "rename it without a comma", files(**{"t.csv": '"a,b",y\n1,0\n2,1\n'})),
    Case("infer-comma-in-category", ("spec", "infer", "{work}/t.csv"), "contains a comma", "'x,y'",
         "rename it without a comma", files(**{"t.csv": 'a,y\n' + '"x,y",0\nz,1\n' * 5})),  # 5 rows each: kept
    Case("infer-missing-file", ("spec", "infer", "{work}/nope.csv"), "does not exist", "{work}/nope.csv",
         "pass data=<path to a CSV file>", files()),
    Case("infer-empty-file", ("spec", "infer", "{work}/t.csv"), "is empty", "{work}/t.csv", "needs a header row",
         files(**{"t.csv": ""})),
    Case("infer-binary-file", ("spec", "infer", "{work}/t.bin"), "is a binary file", "{work}/t.bin",
         "save it as comma-separated UTF-8", files(**{"t.bin": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"})),
    # --- spec check: the spec -----------------------------------------------------------------------------------
    Case("spec-not-utf8", CHECK, "is not UTF-8 text", "0xe9", "save it as UTF-8",
         files(spec=SPEC.replace("name: toy", "name: toy\ndescription: caf\u00e9").encode("latin-1"))),
    Case("spec-yaml-syntax", CHECK, "is not valid YAML at line 5, column 5", "{work}/spec.yaml", "fix the YAML syntax",
         files(spec=spec_with("decimals: 0}", "decimals: 0"))),
    Case("spec-duplicate-key", CHECK, "key 'max' appears twice in one mapping", "'max'", "keep one",
         files(spec=spec_with("min: 18, max: 100,", "min: 18, max: 100, max: 90,"))),
    Case("spec-unknown-key", CHECK, "unknown key", "'colour'", "allowed keys: name, type",
         files(spec=spec_with("decimals: 0}", "decimals: 0, colour: red}"))),
    Case("spec-wrong-type", CHECK, "columns[0] 'age'.min: Input should be a valid number", "'eighteen'",
         "Fix the YAML", files(spec=spec_with("min: 18, max: 100, decimals", "min: eighteen, max: 100, decimals"))),
    Case("spec-missing-key", CHECK, "required key 'target' is missing", "'target'", "add it",
         files(spec=spec_with("target: out\n", ""))),
    Case("spec-rule-unknown-kind", CHECK, "unknown rule kind", "'rnge'", "set kind: to one of range, allowed",
         files(spec=rule("{id: r, kind: rnge, column: age, min: 0, max: 5, note: n}"))),
    Case("spec-rule-without-kind", CHECK, "rules[2] 'r': no 'kind'", "'r'", "set kind: to one of range",
         files(spec=rule("{id: r, column: age, min: 0, max: 5, note: n}"))),
    Case("spec-unknown-operator", CHECK, "rules[2] 'r'.if.op: Input should be '=='", "'=>'", "Fix the YAML",
         files(spec=rule("{id: r, kind: implication, if: {column: age, op: '=>', value: 30}, "
                         "then: {column: bili, op: '<', value: 3}, note: n}"))),
    Case("spec-misspelt-type", CHECK, "columns[0] 'age'.type: Input should be 'numeric' or 'categorical'",
         "'numerc'", "Fix the YAML", files(spec=spec_with("type: numeric, min: 18", "type: numerc, min: 18"))),
    Case("spec-rule-unknown-column", CHECK, "refers to unknown column", "'Bili'", "columns are: age, sex",
         files(spec=rule("{id: r, kind: range, column: Bili, min: 0, max: 5, note: n}"))),
    Case("spec-range-no-value-at-decimals", CHECK, "no value with 1 decimal(s) lies in", "[0.01, 0.04]",
         "widen the range or raise decimals",
         files(spec=spec_with("min: 0.1, max: 30, decimals: 1", "min: 0.01, max: 0.04, decimals: 1"))),
    Case("spec-hard-rule-contradicts-range", CHECK, "leaves column 'bili'", "[40, 50]", "fix the rule or the column",
         files(spec=rule("{id: r, kind: range, column: bili, min: 40, max: 50, hard: true, note: n}"))),
    Case("spec-order-op-on-text", CHECK, "compares numbers but 'a' is not a number", "`out > a`", "write a number",
         files(spec=rule("{id: r, kind: implication, if: {column: out, op: '>', value: a}, "
                         "then: {column: bili, op: '<', value: 3}, note: n}"))),
    Case("spec-order-op-on-categories", CHECK, "compares numbers but column 'sex' holds the categories", "`sex >= 2`",
         "use == / in", files(spec=rule("{id: r, kind: implication, if: {column: sex, op: '>=', value: 2}, "
                                        "then: {column: bili, op: '<', value: 3}, note: n}"))),
    Case("spec-unknown-category-operand", CHECK, "is not a category of column 'stage'", "'5'", "choose from ['1'",
         files(spec=rule("{id: r, kind: implication, if: {column: bili, op: '>', value: 10}, "
                         "then: {column: stage, op: in, value: ['4', '5']}, note: n}"))),
    Case("spec-yaml-boolean-operand", CHECK, "is not a number or a category", "true", "quote categories",
         files(spec=rule("{id: r, kind: implication, if: {column: sex, op: '==', value: yes}, "
                         "then: {column: bili, op: '<', value: 3}, note: n}"))),
    Case("spec-column-comma", CHECK, "contains a comma", "'bili,total'", "rename it without a comma",
         files(spec=SPEC.replace("bili", "'bili,total'"))),
    Case("spec-column-quote", CHECK, "contains a double quote", "'age\"'", "rename it",
         files(spec=spec_with("{name: age,", "{name: 'age\"',"))),
    Case("spec-column-newline", CHECK, "contains a newline", "'a\\nge'", "rename it",
         files(spec=spec_with("{name: age,", '{name: "a\\nge",'))),
    Case("spec-ordering-categorical", CHECK, "ordering rule compares numbers, but 'sex' is categorical", "'r'",
         "use an implication rule", files(spec=rule("{id: r, kind: ordering, left: sex, op: '<=', right: age, note: n}"))),
    Case("spec-hard-ordering-impossible", CHECK, "cannot hold for any row", "`age <= bili`", "fix the rule or the ranges",
         files(spec=spec_with("max: 30, decimals: 1", "max: 15, decimals: 1")
               + "  - {id: r, kind: ordering, left: age, op: '<=', right: bili, hard: true, note: n}\n")),
    Case("spec-allowed-unknown-value", CHECK, "not categories of column 'sex'", "['X']", "choose from ['F', 'M']",
         files(spec=rule("{id: r, kind: allowed, column: sex, values: [F, X], note: n}"))),
    Case("spec-range-rule-on-categories", CHECK, "a range rule needs a numeric column", "'sex'",
         "use an allowed rule", files(spec=rule("{id: r, kind: range, column: sex, min: 0, max: 1, note: n}"))),
    Case("spec-min-above-max", CHECK, "min must be <= max", "min=100, max=18", "swap them",
         files(spec=spec_with("min: 18, max: 100, decimals", "min: 100, max: 18, decimals"))),
    Case("spec-infinite-max", CHECK, "max must be a finite number", "inf", "write the plausible max",
         files(spec=spec_with("max: 30, decimals: 1", "max: .inf, decimals: 1"))),
    Case("spec-target-not-column", CHECK, "target 'outcome' is not a column", "'outcome'", "choose one of: age",
         files(spec=spec_with("target: out", "target: outcome"))),
    Case("spec-target-one-category", CHECK, "has the one category", "['0']", "list at least two categories",
         files(spec=spec_with('categories: ["0", "1"]', 'categories: ["0"]'))),
    Case("spec-is-directory", ("spec", "check", "{work}/specs"), "is a directory", "{work}/specs",
         "pass the path to a spec YAML file", files(specs=None)),
    Case("spec-empty-file", CHECK, "must be a YAML mapping", "an empty file", "keys name, target, columns",
         files(spec="")),
    # --- spec check: the data -----------------------------------------------------------------------------------
    Case("data-is-directory", ("spec", "check", "{work}/spec.yaml", "--data", "{work}/d"), "is a directory",
         "{work}/d", "pass the path to a CSV file", files(d=None)),
    Case("data-duplicated-header", CHECK, "appears twice in the header", "'age'", "rename or delete one",
         files(data=DATA.replace("bili,out", "age,out"))),
    Case("data-unnamed-index-column", CHECK, "column 1 of the header has no name", "{work}/data.csv", "index=False",
         files(data="\n".join(["," + HEADER] + [f"{i},{r}" for i, r in enumerate(ROWS)]) + "\n")),
    Case("data-row-too-long", CHECK, "ending on line 4 has 6 field(s) but the header has 5", "{work}/data.csv",
         "must be quoted", files(data=DATA.replace(ROWS[2], ROWS[2] + ",x"))),
    Case("data-row-too-short", CHECK, "ending on line 3 has 4 field(s)", "{work}/data.csv", "fix that row",
         files(data=DATA.replace(ROWS[1], ROWS[1].rsplit(",", 1)[0]))),
    Case("data-unterminated-quote", CHECK, "is not a readable CSV", "{work}/data.csv", "save it as comma-separated",
         files(data=DATA + '50,"F,1,1.0,1\n')),
    Case("data-header-not-the-spec", CHECK, "has none of the spec's columns", "ID, N_Days",
         "is this the table the spec describes", files(data="ID,N_Days\n" + "1,2\n" * 12)),
    Case("data-missing-column", CHECK, "missing columns ['bili']", "'bili'", "Fix the data, or edit the spec",
         files(data="\n".join(",".join(p for j, p in enumerate(r.split(",")) if j != 3) for r in [HEADER, *ROWS]))),
    Case("data-out-of-range-as-written", CHECK, "outside the spec range [18, 100]", "'-5000'", "Fix the data",
         files(data=DATA.replace(ROWS[3], "-5000" + ROWS[3][2:]))),
    Case("data-non-integral-code", CHECK, "not in categories ['1', '2', '3', '4']", "'4.5'", "Fix the data",
         files(data=DATA.replace(ROWS[3], ROWS[3].replace(",4,", ",4.5,")))),
    Case("data-non-numeric", CHECK, "non-numeric value(s)", "'forty'", "Fix the data",
         files(data=DATA.replace(ROWS[4], "forty" + ROWS[4][2:]))),
    Case("data-missing-not-nullable", CHECK, "missing value(s) but the spec says nullable: false", "'sex'",
         "set nullable: true", files(data=DATA.replace(ROWS[1], ROWS[1].replace(",M,", ",,")))),
    Case("data-header-only", CHECK, "has a header but no rows", "{work}/data.csv", "at least 10 rows",
         files(data=HEADER + "\n")),
    Case("data-too-few-rows", CHECK, "has 3 row(s)", "{work}/data.csv", "needs at least 10 rows for its train/holdout",
         files(data="\n".join([HEADER, *ROWS[:3]]) + "\n")),
    Case("data-empty-file", CHECK, "is empty", "{work}/data.csv", "needs a header row", files(data="")),
    Case("data-binary", CHECK, "is a binary file, not a CSV (an Excel workbook?", "{work}/data.csv", "export it as CSV",
         files(data=b"PK\x03\x04\0\0\0\0" + bytes(range(256)))),
    Case("data-latin1", CHECK, "is not UTF-8 text", "0xe9", "save it as comma-separated UTF-8",
         files(data=DATA.replace("out\n", "out\u00e9\n").encode("latin-1"))),
    # --- main / generate: refused in prepare(), before a model loads ---------------------------------------------
    Case("main-range-no-value", main(), "no value with 0 decimal(s) lies in", "[18.2, 18.7]", "raise decimals",
         files(spec=spec_with("min: 18, max: 100, decimals", "min: 18.2, max: 18.7, decimals"))),
    Case("main-duplicated-header", main(), "appears twice in the header", "'age'", "rename or delete one",
         files(data=DATA.replace("bili,out", "age,out"))),
    Case("main-data-directory", main(), "is a directory", "{work}/data.csv", "pass the path to a CSV file",
         files(data=None)),
    Case("generate-order-op-on-text", generate(), "compares numbers but 'a' is not a number", "`out > a`",
         "write a number", files(spec=rule("{id: r, kind: implication, if: {column: out, op: '>', value: a}, "
                                           "then: {column: bili, op: '<', value: 3}, note: n}"))),
    Case("generate-hard-rule-contradicts", generate(), "leaves column 'bili'", "[40, 50]", "fix the rule",
         files(spec=rule("{id: r, kind: range, column: bili, min: 40, max: 50, hard: true, note: n}"))),
    # --- evaluate --synthetic -------------------------------------------------------------------------------------
    Case("evaluate-synthetic-header-only", evaluate(), "has a header but no rows", "{work}/syn.csv",
         "a synthetic table needs at least 1 row", files(**{"syn.csv": HEADER + "\n"})),
    Case("evaluate-synthetic-directory", evaluate("{work}/syn"), "is a directory", "{work}/syn",
         "pass the path to a CSV file", files(syn=None)),
    Case("evaluate-synthetic-bad-code", evaluate(), "not in categories ['1', '2', '3', '4']", "'4.5'",
         "Fix the data", files(**{"syn.csv": f"{HEADER}\n40,F,4.5,1.0,0\n"})),
    Case("evaluate-synthetic-ragged", evaluate(), "has 3 field(s) but the header has 5", "{work}/syn.csv",
         "fix that row", files(**{"syn.csv": f"{HEADER}\n40,F,1\n"})),
    Case("evaluate-bad-spec", evaluate(), "contains a comma", "'bili,total'", "rename it",
         files(spec=SPEC.replace("bili", "'bili,total'"), **{"syn.csv": DATA})),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_spec_or_data_is_one_clear_error(case, tmp_path, monkeypatch):
    check_cli(case, tmp_path, monkeypatch)


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


MLPROJECT = [
    ("main", {"dataset": "{work}/spec.yaml", "data": "{work}/data.csv", "backend": "fake", "model": "fake"},
     Case("mlproject-main-condition", (), "compares numbers but 'a' is not a number", "`out > a`", "write a number",
          files(spec=rule("{id: r, kind: implication, if: {column: out, op: '>', value: a}, "
                          "then: {column: bili, op: '<', value: 3}, note: n}")))),
    ("main", {"dataset": "{work}/spec.yaml", "data": "{work}/data.csv", "backend": "fake", "model": "fake"},
     Case("mlproject-main-duplicated-header", (), "appears twice in the header", "'age'", "rename or delete one",
          files(data=DATA.replace("bili,out", "age,out")))),
    ("evaluate", {"synthetic": "{work}/syn.csv", "dataset": "{work}/spec.yaml", "data": "{work}/data.csv"},
     Case("mlproject-evaluate-header-only", (), "has a header but no rows", "{work}/syn.csv",
          "a synthetic table needs at least 1 row", files(**{"syn.csv": HEADER + "\n"}))),
    ("evaluate", {"synthetic": "{work}/syn.csv", "dataset": "{work}/spec.yaml", "data": "{work}/data.csv"},
     Case("mlproject-evaluate-spec-not-utf8", (), "is not UTF-8 text", "0xe9", "save it as UTF-8",
          files(spec=SPEC.replace("name: toy", "name: toy\ndescription: caf\u00e9").encode("latin-1"),
                **{"syn.csv": DATA}))),
]


@pytest.mark.parametrize("entry,params,case", MLPROJECT, ids=[c.id for _, _, c in MLPROJECT])
def test_bad_spec_or_data_through_mlproject(entry, params, case, tmp_path):
    check_mlproject(entry, params, case, tmp_path)
