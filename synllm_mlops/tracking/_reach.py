"""Fail fast on a tracking server that is down, instead of MLflow's ~4 minutes of retries per request."""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlparse

from synllm_mlops.errors import ConfigError, redact
from synllm_mlops.settings import settings


def check_reachable(uri: str | None = None, timeout_s: float | None = None) -> None:
    """Raise a :class:`ConfigError` naming the URI and the fix when an HTTP tracking server does not answer.

    One TCP connection with a short timeout (``SYNLLM_TRACKING_TIMEOUT_S``, default 3 s) per call, remembered
    nowhere: a server that goes down mid-study fails the next run in seconds too (a check costs one round trip,
    next to the dozens of requests a run makes). Local stores (``sqlite:``, file paths) and URIs reached
    through a proxy are not checked.
    """
    import mlflow

    uri = uri or mlflow.get_tracking_uri()
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return
    if urllib.request.getproxies().get(parsed.scheme) and not urllib.request.proxy_bypass(parsed.hostname):
        return  # the proxy, not us, reaches the server
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    timeout_s = timeout_s or settings().tracking_timeout_s
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout_s).close()
    except OSError as e:
        why = "no answer within {:g} s".format(timeout_s) if isinstance(e, TimeoutError) else (e.strerror or str(e)).lower()
        raise ConfigError(
            f"cannot reach the MLflow tracking server {redact(uri)} (MLFLOW_TRACKING_URI): {why}; fix: start it "
            f"(`mlflow server --host {parsed.hostname} --port {port}`), or set MLFLOW_TRACKING_URI to a running server "
            "or to a local store such as sqlite:///mlflow.db") from None
