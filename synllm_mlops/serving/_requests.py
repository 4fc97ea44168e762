"""What one call to the served generator may ask for, checked strictly before any row is generated.

A call holds one or more requests ``{"n_rows": 5, "seed": 1}``. MLflow hands the model the JSON
values as parsed (the model has no input signature on purpose: a typed one made MLflow truncate
``n_rows: 2.9`` to 2 and drop unknown keys before the model saw them), so every value is checked
here: whole numbers only (``2.0`` is 2; ``2.9``, ``"2"``, ``true`` are refused), in range, and the
call's total rows (the sum of its ``n_rows``) at most the server's cap. The cap bounds the work of
one call: the scoring server's request timeout answers the client but does not stop generation.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from synllm_mlops.errors import ConfigError
from synllm_mlops.settings import VARIABLES, settings

MAX_ROWS_ENV = "SYNLLM_SERVE_MAX_ROWS"
# rows per call (declared in settings): minutes with the embedded model on a CPU, seconds on a GPU
DEFAULT_MAX_ROWS: int = VARIABLES[MAX_ROWS_ENV].default
SEED_MAX = 2**32 - 1
KEYS = ("n_rows", "seed")
EXAMPLE = '{"inputs": {"n_rows": 5, "seed": 1}}'


def max_rows_from_env() -> int:
    """The per-call row cap: ``SYNLLM_SERVE_MAX_ROWS`` where the model is served, else :data:`DEFAULT_MAX_ROWS`.

    Raises:
        ConfigError: the variable is not a whole number >= 1 (the message names it, the value and the fix).
    """
    return settings().serve_max_rows


def parse_requests(model_input: Any, max_rows: int) -> list[dict[str, int]]:
    """The requests of one call, validated, or a :class:`ConfigError` naming the problem, the value and the fix.

    Accepts one request (a dict of scalars), columns (a dict of equal-length lists), a list of request
    dicts, or a DataFrame with those columns, as MLflow's scoring server passes them.

    Example:
        >>> parse_requests({"n_rows": 2.0, "seed": 7}, max_rows=100)
        [{'n_rows': 2, 'seed': 7}]
    """
    records = _records(model_input)
    if not records:
        raise ConfigError(f"the call holds no request; send at least one, e.g. {EXAMPLE}")
    if len(records) > max_rows:  # each request asks for >= 1 row: refuse before looking at each one
        raise ConfigError(f"the call holds {len(records)} requests, more than the server's cap of {max_rows} rows per "
                          f"call ({MAX_ROWS_ENV}); send fewer requests per call, or raise {MAX_ROWS_ENV} where the "
                          "model is served")
    out = []
    for i, r in enumerate(records):
        where = f"request {i + 1} of {len(records)}: " if len(records) > 1 else ""
        if not isinstance(r, dict):
            raise ConfigError(f"{where}a request must be an object like {EXAMPLE[11:-1]}, got {_show(r)}")
        unknown = sorted(str(k) for k in r if k not in KEYS)
        if unknown:
            raise ConfigError(f"{where}unknown key(s) {', '.join(map(repr, unknown))}; a request takes n_rows "
                              f"(required) and seed (optional) only, e.g. {EXAMPLE}")
        n = _whole(r.get("n_rows"), "n_rows", 1, max_rows, where, required=True)
        seed = _whole(r.get("seed"), "seed", 0, SEED_MAX, where, required=False)
        out.append({"n_rows": n, "seed": 0 if seed is None else seed})
    total = sum(r["n_rows"] for r in out)
    if total > max_rows:
        raise ConfigError(f"the call asks for {total} rows in total ({len(out)} request(s)), more than the server's "
                          f"cap of {max_rows} rows per call ({MAX_ROWS_ENV}); split it into calls of at most "
                          f"{max_rows} rows, or raise {MAX_ROWS_ENV} where the model is served")
    return out


def _records(model_input: Any) -> list:
    import numpy as np
    import pandas as pd

    if isinstance(model_input, pd.DataFrame):
        cols = [str(c) for c in model_input.columns]
        return [dict(zip(cols, row)) for row in model_input.itertuples(index=False, name=None)]
    if isinstance(model_input, dict):
        values = [_unwrap(v) for v in model_input.values()]
        columns = [v for v in values if isinstance(v, (list, tuple, np.ndarray))]
        if not columns:
            return [dict(zip(model_input, values))]
        lengths = {len(v) for v in columns}
        if len(columns) != len(values) or len(lengths) != 1:
            raise ConfigError(f"the inputs mix single values and lists, or lists of different lengths "
                              f"({', '.join(f'{k}: {_show(v)}' for k, v in zip(model_input, values))}); send one "
                              f"request as single values, e.g. {EXAMPLE}, or several as a list of such objects")
        n = lengths.pop()
        return [{k: _unwrap(v[i]) for k, v in zip(model_input, values)} for i in range(n)]
    if isinstance(model_input, np.ndarray):  # {"inputs": [...]} of non-objects arrives as an array
        model_input = model_input.tolist()
    if isinstance(model_input, (list, tuple)):
        return [{k: _unwrap(v) for k, v in r.items()} if isinstance(r, dict) else r for r in model_input]
    raise ConfigError(f"the inputs must be an object like {EXAMPLE[11:-1]} or a list of them, "
                      f"got {type(model_input).__name__}")


def _unwrap(v: Any) -> Any:
    """A numpy 0-d array or scalar -> the Python value (MLflow wraps JSON values in numpy)."""
    import numpy as np

    if isinstance(v, np.ndarray) and v.ndim == 0 or isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _whole(v: Any, name: str, lo: int, hi: int, where: str, *, required: bool) -> int | None:
    v = _unwrap(v)
    missing = v is None or (isinstance(v, float) and math.isnan(v))
    if missing:
        if required:
            raise ConfigError(f"{where}{name} is missing; every request needs n_rows, a whole number in {lo}..{hi}, "
                              f"e.g. {EXAMPLE}")
        return None
    rule = f"{name} must be a whole number in {lo}..{hi}"
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ConfigError(f"{where}{rule}, got {_show(v)} ({type(v).__name__}); send a JSON number without "
                          f"quotes, e.g. {EXAMPLE}")
    if isinstance(v, float) and not (math.isfinite(v) and v.is_integer()):
        raise ConfigError(f"{where}{rule}, got {v!r} (not a whole number); send an integer such as "
                          f"{max(lo, math.floor(v)) if math.isfinite(v) else lo}")
    n = int(v)
    if not lo <= n <= hi:
        fix = (f"split it into calls of at most {hi} rows, or raise {MAX_ROWS_ENV} where the model is served"
               if name == "n_rows" and n > hi else f"send a value in {lo}..{hi}")
        raise ConfigError(f"{where}{rule}, got {n}; {fix}")
    return n


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
