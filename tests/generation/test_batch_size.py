"""batch_size=auto: the choice from (fake) free GPU memory, the CPU choice, and the value through every entry."""

from __future__ import annotations

from types import SimpleNamespace

import mlflow
import pytest
from click.testing import CliRunner

from synllm_mlops import cli as cli_module
from synllm_mlops.config import RunConfig
from synllm_mlops.errors import ConfigError
from synllm_mlops.generation import GenerationParams, make_backend
from synllm_mlops.generation._batch import AUTO_CPU_BATCH, choose_batch_size, per_sequence_bytes

GiB = 2**30


def test_choice_is_the_largest_batch_in_the_stated_share_of_free_memory():
    assert choose_batch_size(10 * GiB, 64 * 2**20, cap=1000) == 128  # 0.8 x 10 GiB / 64 MiB
    assert choose_batch_size(10 * GiB, 100 * 2**20, cap=1000) == 80  # 81.9 -> 81 -> a multiple of 8
    assert choose_batch_size(10 * GiB, 64 * 2**20, cap=1000, fraction=0.5) == 80
    assert choose_batch_size(10 * GiB, 64 * 2**20, cap=50) == 50  # the run needs no more
    assert choose_batch_size(100 * 2**20, 64 * 2**20, cap=1000) == 1  # fits less than one: still one
    assert choose_batch_size(7 * 64 * 2**20, 51 * 2**20, cap=1000) == 7  # below 8: not rounded
    with pytest.raises(ValueError, match="per_sequence_bytes must be > 0, got 0"):
        choose_batch_size(GiB, 0, cap=4)


def _llama(**kw):
    cfg = SimpleNamespace(num_attention_heads=4, num_key_value_heads=2, hidden_size=64, num_hidden_layers=2,
                          intermediate_size=128, vocab_size=1000, **kw)
    cfg.get_text_config = lambda decoder=True: cfg
    return cfg


def test_per_sequence_bytes_counts_new_token_cache_and_one_steps_activations():
    got = per_sequence_bytes(_llama(), dtype_bytes=2, context=100, cache_tokens=11)
    kv = 2 * 2 * 2 * 16 * 2 * 11  # k and v, 2 layers, 2 KV heads, head_dim 16, bf16, 11 slots
    assert got == kv + 3 * 1000 * 4 + 2 * 4 * 100 * 4 + 3 * 128 * 2


def _hf_on_fake_cuda(monkeypatch, free: int, shared_prefix: bool = True):
    """An hf backend whose 'model' is a bf16 config on 'cuda', with torch.cuda.mem_get_info faked."""
    import torch

    from synllm_mlops.generation._hf import HFBackend

    b = HFBackend.__new__(HFBackend)
    b.device, b.shared_prefix = "cuda", shared_prefix
    b._model = SimpleNamespace(config=_llama(), dtype=torch.bfloat16, device="cuda")
    monkeypatch.setattr(b, "load", lambda: b)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 80 * GiB))
    return b


def test_hf_on_cuda_sizes_the_batch_from_free_memory(monkeypatch):
    per_seq = per_sequence_bytes(_llama(), dtype_bytes=2, context=100 + 50, cache_tokens=51)
    b = _hf_on_fake_cuda(monkeypatch, free=per_seq * 1000)
    assert b.auto_batch_size(100, 50, cap=10_000) == 800
    assert b.auto_batch_size(100, 50, cap=96) == 96
    # without shared-prefix attention each sequence holds the prompt's cache too: fewer fit
    b = _hf_on_fake_cuda(monkeypatch, free=per_seq * 1000, shared_prefix=False)
    assert b.auto_batch_size(100, 50, cap=10_000) < 800


def test_cpu_choice_is_fixed_and_capped(cirrhosis):
    spec = cirrhosis[0]
    fake = make_backend("fake", "fake", spec=spec)
    assert fake.auto_batch_size(2000, 100, cap=1000) == AUTO_CPU_BATCH == 16
    assert fake.auto_batch_size(2000, 100, cap=3) == 3


@pytest.mark.parametrize("value,want", [("auto", "auto"), (" AUTO ", "auto"), ("16.0", 16), (8, 8), ("1024", 1024)])
def test_config_accepts_auto_and_whole_numbers(value, want):
    assert RunConfig.build(batch_size=value).generation.batch_size == want
    assert GenerationParams(batch_size=value).batch_size == want


@pytest.mark.parametrize("value", ["0", "2.5", "abc", "1025", True])
def test_config_refuses_anything_else_and_says_how_to_fix_it(value):
    with pytest.raises(ConfigError, match=r"batch_size must be a whole number from 1 to 1024 or auto \(got .*\); "
                                          r"fix: set --batch-size to e.g. 16, or auto"):
        RunConfig.build(batch_size=value)


def test_cli_flag_and_config_file_take_auto(monkeypatch, tmp_path):
    import synllm_mlops.workflow as workflow

    seen = []

    def fake_run(cfg, *, evaluate):
        seen.append(cfg)
        raise ConfigError("stop here")

    monkeypatch.setattr(workflow, "run_generation", fake_run)
    CliRunner().invoke(cli_module.cli, ["generate", "--batch-size", "auto"])
    yml = tmp_path / "run.yaml"
    yml.write_text("batch_size: auto\n")
    CliRunner().invoke(cli_module.cli, ["main", "--config", str(yml)])
    assert [c.generation.batch_size for c in seen] == ["auto", "auto"]


def test_tune_base_run_takes_auto(tmp_path):
    from synllm_mlops.tuning import TuneConfig

    cfg = TuneConfig.build(backend="fake", model="fake", batch_size="auto", storage=str(tmp_path / "o.sqlite3"))
    assert cfg.run.generation.batch_size == "auto"


def test_a_run_logs_auto_as_asked_and_the_resolved_batch_as_a_metric(mlflow_store, cirrhosis):
    from synllm_mlops.workflow import run_generation

    spec = cirrhosis[0]
    cfg = RunConfig(n_rows=12, batch_size="auto", rows_per_completion=3, calibration="none", strategy="statguide")
    out = run_generation(cfg, evaluate=False, backend=make_backend("fake", "fake", spec=spec), progress=False)
    run = mlflow.get_run(out.run_id)
    assert run.data.params["batch_size"] == "auto"
    assert run.data.metrics["gen/batch_size"] == 4  # 12 rows / 3 per completion: the cap, under the CPU's 16
    assert len(out.synthetic) == 12
