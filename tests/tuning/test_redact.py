"""Storage URLs never reach MLflow with a password in them."""

from __future__ import annotations

import pytest

from synllm_mlops.errors import ConfigError
from synllm_mlops.tuning import redact
from synllm_mlops.tuning._study import refuse_logged_secret


@pytest.mark.parametrize("url,want", [
    ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # an unescaped @ in the password
    ("postgresql://h/db?password=pw", "postgresql://h/db?password=***"),
    ("postgresql://u@h/db?sslmode=require&Password=pw&x=1", "postgresql://u@h/db?sslmode=require&Password=***&x=1"),
    ("mysql://a@c/d?token=t;api_key=k", "mysql://a@c/d?token=***;api_key=***"),
    ("postgresql+psycopg2://synllm@127.0.0.1:5433/optuna", "postgresql+psycopg2://synllm@127.0.0.1:5433/optuna"),
    ("optuna.sqlite3", "optuna.sqlite3"),
])
def test_redact_hides_userinfo_and_query_passwords(url, want):
    assert redact(url) == want


def test_a_password_under_mlflow_run_is_refused_with_the_fix(monkeypatch):
    monkeypatch.setenv("MLFLOW_RUN_ID", "abc123")
    with pytest.raises(ConfigError, match=r"(?s)run abc123 now shows it.*~/.pgpass") as e:
        refuse_logged_secret("postgresql://u@h/db?password=hunter2")
    assert "hunter2" not in str(e.value)
    refuse_logged_secret("postgresql://u@h/db")  # libpq finds the password itself: fine
    monkeypatch.delenv("MLFLOW_RUN_ID")
    refuse_logged_secret("postgresql://u:pw@h/db")  # outside mlflow run we log only the redacted form
