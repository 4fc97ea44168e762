"""What a run asks of the decoder is checked in ``prepare``, before any model loads: never a silent downgrade."""

from __future__ import annotations

import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.errors import CapabilityError, ConfigError
from synllm_mlops.pipeline import check_decoding, prepare
from synllm_mlops.spec import load_spec


def test_steering_without_the_grammar_is_an_error_not_a_silent_off():
    cfg = RunConfig(dataset="cirrhosis", backend="fake", constrained=False)  # default calibration: select+steer
    with pytest.raises(ConfigError, match=r"calibration='select\+steer' steers .* constrained=false turns the grammar "
                                          r"off; fix: set constrained=true, or calibration=select"):
        prepare(cfg)
    check_decoding(cfg.model_copy(update={"calibrate": cfg.calibrate.model_copy(update={"calibration": "select"})}),
                   load_spec("cirrhosis"))  # nothing steered: fine unconstrained


def test_a_backend_that_cannot_steer_or_guide_is_refused_before_it_loads(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "vllm", object())  # "installed": the capability is what is checked
    cirrhosis, breast = load_spec("cirrhosis"), load_spec("breast_cancer")
    with pytest.raises(CapabilityError, match=r"backend 'vllm' cannot steer .*fix: use backend 'hf', or calibration=select"):
        check_decoding(RunConfig(backend="vllm"), cirrhosis)
    check_decoding(RunConfig(backend="vllm", calibration="select"), cirrhosis)  # no cross-column hard rule: fine
    with pytest.raises(CapabilityError, match=r"backend 'vllm' does not enforce the spec's hard rules between columns"):
        check_decoding(RunConfig(backend="vllm", calibration="select"), breast)
    check_decoding(RunConfig(backend="vllm", calibration="select", constrained=False), breast)  # nothing to guide
    for backend in ("hf", "fake"):
        check_decoding(RunConfig(backend=backend), breast)


def test_the_token_budget_comes_from_the_spec_not_the_rows():
    """``max_new_tokens`` reaches trace spans and the registered model: it reads the spec's widest row only."""
    import re

    from synllm_mlops.constraints import row_regex
    from synllm_mlops.generation import make_backend
    from synllm_mlops.pipeline import max_new_tokens, widest_row

    spec = load_spec("cirrhosis")
    backend = make_backend("fake", "smollm2-135m", spec=spec)
    row = widest_row(backend, spec)
    assert re.fullmatch(row_regex(spec), row)  # a row the grammar allows
    fields = dict(zip(spec.column_names, row.split(",")))
    assert fields["Drug"] == "D-penicillamine" and fields["Bilirubin"] == "30.0"  # longest category, range end
    cfg = RunConfig(dataset="cirrhosis", backend="fake")
    per_row = backend.count_tokens(row) + 1
    assert max_new_tokens(backend, cfg, spec) == -(-per_row * cfg.prompt.rows_per_completion * 13 // 10) + 8
    assert max_new_tokens(backend, RunConfig(dataset="cirrhosis", max_new_tokens=77), spec) == 77
