"""The hf backend's compile policy: off unless asked for on CUDA; compile time reported apart from generation."""

import pytest

from synllm_mlops.errors import ConfigError
from synllm_mlops.generation._hf import HFBackend


def test_compile_is_off_by_default_and_never_on_a_cpu():
    assert HFBackend("smollm2-135m").compile == "off"
    cpu = HFBackend("smollm2-135m", device="cpu", compile="on")
    assert not cpu.compiling
    cuda = HFBackend("smollm2-135m", device="cuda", compile="on")  # nothing loads: the policy alone
    assert cuda.compiling and not HFBackend("smollm2-135m", device="cuda").compiling


def test_an_unknown_compile_mode_names_the_choices():
    with pytest.raises(ConfigError, match=r"compile must be one of: off, on; got 'yes'"):
        HFBackend("smollm2-135m", compile="yes")


def test_compile_seconds_are_a_metric_of_their_own():
    from synllm_mlops.config import RunConfig
    from synllm_mlops.generation import make_backend
    from synllm_mlops.pipeline import generate_rows, prepare

    prep = prepare(RunConfig(dataset="cirrhosis", backend="fake", model="fake", n_rows=4))
    backend = make_backend("fake", "fake", spec=prep.spec)
    backend.compile_seconds = 5.0  # compiled before this run: not this run's
    m = generate_rows(prep, backend, progress=False).metrics
    assert m["gen/compile_seconds"] == 0.0 and m["gen/seconds"] > 0
