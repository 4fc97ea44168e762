"""An unreachable tracking server fails in seconds, naming the URI and the fix; local stores are not probed."""

import socket
import time

import pytest

from synllm_mlops.errors import ConfigError
from synllm_mlops.tracking import check_reachable


def _closed_port() -> int:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_server_fails_fast_with_the_uri_and_the_fix():
    uri = f"http://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with pytest.raises(ConfigError, match=rf"cannot reach the MLflow tracking server {uri} \(MLFLOW_TRACKING_URI\): "
                                          r".*; fix: start it .*or set MLFLOW_TRACKING_URI"):
        check_reachable(uri)
    assert time.monotonic() - start < 5


def test_a_password_in_the_uri_is_not_echoed():
    with pytest.raises(ConfigError) as e:
        check_reachable(f"http://me:secret@127.0.0.1:{_closed_port()}")
    assert "secret" not in str(e.value) and "me:***@" in str(e.value)
    with pytest.raises(ConfigError) as e:  # a token in the query is hidden as well (the one redact() for all URLs)
        check_reachable(f"http://127.0.0.1:{_closed_port()}/?token=hunter2")
    assert "hunter2" not in str(e.value) and "token=***" in str(e.value)


def test_a_listening_server_and_local_stores_pass(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        check_reachable(f"http://127.0.0.1:{s.getsockname()[1]}")
    check_reachable(f"sqlite:///{tmp_path / 'mlflow.db'}")
    check_reachable(str(tmp_path / "mlruns"))
