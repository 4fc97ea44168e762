"""One explicit backend registry: built-ins by import path (nothing registers itself on import), users' by one call."""

from __future__ import annotations

import subprocess
import sys

import pytest

from synllm_mlops.errors import CapabilityError, UnknownNameError
from synllm_mlops.generation import BACKENDS, GenerationBackend, check_backend, make_backend, register_backend


def test_importing_the_package_imports_no_backend_module():
    code = ("import sys, synllm_mlops.generation as g; "
            "print(sorted(m for m in sys.modules if m.startswith('synllm_mlops.generation.') and "
            "m.split('.')[-1] in ('_hf', '_vllm', '_fake', '_stats')), list(g.BACKENDS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] ['fake', 'hf', 'stats', 'vllm']"


def test_an_unknown_backend_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown backend 'hff'.*fake, hf, stats, vllm"):
        make_backend("hff", "m")
    assert "hff" not in BACKENDS


def test_a_registered_backend_is_built_by_name_and_declares_nothing_by_default(monkeypatch):
    class Echo(GenerationBackend):
        name = "echo"

        def __init__(self, model: str):
            self.model = model

        def info(self):
            raise NotImplementedError

        def _generate_batch(self, *args):
            raise NotImplementedError

    monkeypatch.setattr(BACKENDS, "_added", {})  # this test's registrations stay in this test
    assert register_backend("echo", Echo) is Echo
    assert isinstance(make_backend("echo", "m"), Echo) and "echo" in BACKENDS
    check_backend("echo")
    with pytest.raises(CapabilityError, match="backend 'echo' cannot steer"):
        check_backend("echo", steering=True)
