"""The harness itself: a known-good bad-input case passes, and a case whose message misses the fix fails."""

import pytest
from _harness import Case, check_cli

GOOD = Case("unknown-strategy", ("generate", "--strategy", "clinrule"), "unknown strategy", "'clinrule'",
            "choose one of")


def test_a_clean_error_passes(tmp_path, monkeypatch):
    check_cli(GOOD, tmp_path, monkeypatch)


def test_a_message_without_the_fix_fails(tmp_path, monkeypatch):
    bad = Case(GOOD.id, GOOD.argv, GOOD.problem, GOOD.value, "no such fix text")
    with pytest.raises(AssertionError, match="does not name the fix"):
        check_cli(bad, tmp_path, monkeypatch)


def test_a_changed_user_file_fails(tmp_path, monkeypatch):
    def setup(work):
        (work / "data.csv").write_text("a,b\n1,2\n")

    case = Case("writes", ("spec", "infer", "{work}/data.csv", "-o", "{work}/data.csv"), "x", "x", "x", setup=setup)
    with pytest.raises(AssertionError):
        check_cli(case, tmp_path, monkeypatch)
