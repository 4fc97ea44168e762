"""The ``hf`` backend: transformers + accelerate, CUDA when present, else CPU.

Batched sampling; the tokenizer's own chat template; the prompt is prefilled once and its KV
cache reused by every batch (all sequences of a run share one prompt); only new tokens are
decoded; grammar enforced with xgrammar during decoding.
"""

from __future__ import annotations

import contextlib
import warnings

from synllm_mlops.constraints import RowGuide, RuleLogitsProcessor
from synllm_mlops.errors import ConfigError, ModelLoadError
from synllm_mlops.generation._backend import Completion, GenerationBackend, ModelInfo
from synllm_mlops.generation._catalog import ModelRef, resolve_model
from synllm_mlops.generation import _shared_prefix as _shared
from synllm_mlops.generation._params import GenerationParams
from synllm_mlops.generation._weights import dequantized_dir
from synllm_mlops.prompts import Prompt


@contextlib.contextmanager
def _no_cache_deprecation():
    """Silence transformers' "past_key_values is deprecated" FutureWarning around our own calls.

    It fires at every batch, breaks the progress bar and names nothing a user can change: the fix is ours
    (move to ``cache=`` before transformers 5.40, which the pyproject pin keeps out until then).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*past_key_values.*deprecated", category=FutureWarning)
        yield


COMPILE_MODES = ("off", "on")


class HFBackend(GenerationBackend):
    """transformers backend.

    Args:
        model: catalog alias, Hugging Face id or local directory.
        device: ``cuda``/``cpu``; default CUDA when available.
        dtype: ``float32``/``bfloat16``/``float16``; default float32 on CPU, bfloat16 on CUDA.
        attn_implementation: ``sdpa`` (default) or ``eager``.
        compile: ``off`` (default) or ``on``: compile the decoding step with torch inductor, on CUDA only
            (on CPU compiling takes minutes and is always off). Off, transformers' own automatic compile
            is disabled too (it compiled inside ``generate`` and again for every new batch shape). On,
            every batch of a run has the run's shape (the last batch is padded with sequences that are
            thrown away), so the step compiles once per run, in a timed warm-up reported as
            :attr:`compile_seconds` and not counted as generation time.
    """

    name = "hf"
    supports_guide = True  # the rule guide and steering run as a logits processor after the grammar's
    supports_steering = True

    def __init__(self, model: str, *, device: str | None = None, dtype: str | None = None,
                 attn_implementation: str = "sdpa", shared_prefix: bool = True, ref: ModelRef | None = None,
                 compile: str = "off"):
        if compile not in COMPILE_MODES:
            raise ConfigError(f"compile must be one of: {', '.join(COMPILE_MODES)}; got {compile!r}")
        self.compile = compile
        self._compiled: set[tuple[int, int, int]] = set()  # (batch, prompt, new tokens) shapes warmed up
        self.ref = ref or resolve_model(model)
        self.device, self.dtype_name, self.attn = device, dtype, attn_implementation
        self.shared_prefix = shared_prefix  # turned off at load for models it does not support
        self._model = self._tok = None
        self._prefix: tuple[str, object, object] | None = None  # (prompt text, ids, KV cache)
        self._compiler = None
        self._grammars: dict[str, object] = {}
        self._texts: dict[int, str] = {}  # token id -> decoded text, for the rule processor

    # -- loading -------------------------------------------------------------------------------
    def load(self) -> "HFBackend":
        if self._model is not None:
            return self
        import torch
        from transformers import AutoTokenizer

        self.device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype_name = self.dtype_name or ("bfloat16" if self.device == "cuda" else "float32")
        path = str(dequantized_dir(self.ref)) if self.ref.embedded else (self.ref.local_dir or self.ref.hf_id)
        try:
            self._tok = AutoTokenizer.from_pretrained(path)
            self._model = self._load_model(path, getattr(torch, self.dtype_name))
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"could not load model {self.ref.alias!r} from {path}: {e}") from e
        self.shared_prefix = self.shared_prefix and self.attn == "sdpa" and _shared.supported(self._model)
        if self.shared_prefix:
            self._model.set_attn_implementation(_shared.register())
        self._tok.padding_side = "left"
        if self._tok.pad_token is None:
            self._tok.pad_token = self._tok.eos_token
        return self

    def _load_model(self, path: str, dtype):
        """The model's weights from ``path``, on the backend's device, in eval mode."""
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(path, dtype=dtype, attn_implementation=self.attn).to(self.device).eval()

    def _revision(self) -> str:
        """The weights' revision, as the run records it."""
        cfg = self._model.config
        return str(getattr(cfg, "_commit_hash", None) or (f"gguf:{self.ref.gguf_file}" if self.ref.embedded else "local"))

    def info(self) -> ModelInfo:
        self.load()
        revision = self._revision()
        return ModelInfo(model=self.ref.alias, hf_id=self.ref.hf_id, revision=str(revision), dtype=self.dtype_name,
                         backend=self.name, device=self.device,
                         extra={"n_params": str(sum(p.numel() for p in self._model.parameters())),
                                "attn_implementation": _shared.NAME if self.shared_prefix else self.attn,
                                "quantization": self.ref.quantization})

    def count_tokens(self, text: str) -> int:
        self.load()
        return len(self._tok(text, add_special_tokens=False)["input_ids"])

    def _chat_tokenizer(self):
        return self._tok if self.ref.chat else None

    def close(self) -> None:
        """Drop the weights, the prompt's KV cache and the compiled grammars."""
        self._model = self._tok = self._prefix = self._compiler = None
        self._compiled = set()
        self._grammars, self._texts = {}, {}

    @property
    def compiling(self) -> bool:
        """Whether decoding steps run compiled: ``compile="on"`` on a CUDA device."""
        return self.compile == "on" and self.device == "cuda"

    def auto_batch_size(self, prompt_tokens: int, max_new_tokens: int, cap: int) -> int:
        """On CUDA: the largest batch whose new-token KV cache and step activations fit
        :data:`~synllm_mlops.generation._batch.AUTO_MEMORY_FRACTION` of the free GPU memory (the weights are
        already there, so outside it; the prompt's one batch-1 cache fits the margin), at most ``cap``; on CPU
        the fixed choice."""
        self.load()
        if self.device != "cuda":
            return super().auto_batch_size(prompt_tokens, max_new_tokens, cap)
        import torch

        from synllm_mlops.generation._batch import choose_batch_size, per_sequence_bytes

        free, _total = torch.cuda.mem_get_info(self._model.device)
        # without shared-prefix attention every sequence also holds its own copy of the prompt's cache
        cache_tokens = max_new_tokens + 1 + (0 if self.shared_prefix else prompt_tokens)
        per_seq = per_sequence_bytes(self._model.config, dtype_bytes=self._model.dtype.itemsize,
                                     context=prompt_tokens + max_new_tokens, cache_tokens=cache_tokens)
        return choose_batch_size(free, per_seq, cap)

    # -- generation ----------------------------------------------------------------------------
    def _prefill(self, text: str):
        """Token ids and the KV cache of all prompt tokens but the last, computed once per prompt."""
        import torch
        from transformers import DynamicCache

        if self._prefix is None or self._prefix[0] != text:
            ids = self._tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"].to(self.device)
            cache = DynamicCache(config=self._model.config)
            with torch.inference_mode(), _no_cache_deprecation():
                self._model(input_ids=ids[:, :-1], past_key_values=cache, use_cache=True)
            self._prefix = (text, ids, cache)
        return self._prefix[1], self._prefix[2]

    def _batch_cache(self, prefix, prompt_len: int, batch_size: int, max_new_tokens: int):
        """A preallocated KV cache for one batch, positioned after the prompt's first ``prompt_len - 1`` tokens.

        With shared-prefix attention the prompt is read from ``prefix`` itself, so the batch cache holds the
        new tokens only (``_kv``: memory grows with batch x new tokens, not batch x prompt). Otherwise a
        static cache with the prefix copied into each sequence. A static cache writes each new token in
        place; the default dynamic cache concatenates the whole (prompt-long) cache at every step, which
        made long prompts ~2-3x slower on CPU.
        """
        from transformers import StaticCache

        if any(getattr(layer, "is_sliding", False) for layer in prefix.layers):
            # sliding-window layers (Gemma 3) keep only the window's last tokens, so the prefix cannot be
            # laid into a static cache: give each batch its own copy of the dynamic prefix cache instead
            import copy

            kv = copy.deepcopy(prefix)
            for layer in kv.layers:
                layer.batch_repeat_interleave(batch_size)
            return kv
        cfg = self._model.config
        if self.shared_prefix:
            from synllm_mlops.generation._kv import new_tokens_cache

            # the last prompt token and every new token but the last are written; one slot more keeps a
            # masked column in every step's mask, so transformers never drops the mask (as with the static cache)
            return new_tokens_cache(cfg, offset=prompt_len - 1, capacity=max_new_tokens + 1, batch_size=batch_size,
                                    dtype=self._model.dtype, device=self._model.device)
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        kv = StaticCache(config=cfg, max_cache_len=prompt_len + max_new_tokens)
        kv.early_initialization(batch_size, cfg.num_key_value_heads, head_dim, self._model.dtype, self._model.device)
        for static, dyn in zip(kv.layers, prefix.layers):
            static.keys[:, :, : prompt_len - 1] = dyn.keys
            static.values[:, :, : prompt_len - 1] = dyn.values
            static.cumulative_length.fill_(prompt_len - 1)
        return kv

    def _warm_up(self, input_ids, prefix, max_new_tokens: int, gen_cfg, shared) -> None:
        """Compile the decoding step for this shape (same batch, prompt and cache size) before timing starts."""
        import copy
        import time

        import torch

        t0 = time.perf_counter()
        kv = self._batch_cache(prefix, input_ids.shape[1], input_ids.shape[0], max_new_tokens)
        cfg = copy.deepcopy(gen_cfg)
        cfg.max_new_tokens = 3  # the first step is the uncompiled prefill; the next ones run (and compile) the graph
        with torch.inference_mode(), shared, _no_cache_deprecation():
            self._model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), past_key_values=kv,
                                 generation_config=cfg)
        torch.cuda.synchronize()
        self.compile_seconds += time.perf_counter() - t0
        self._compiled.add((input_ids.shape[0], input_ids.shape[1], max_new_tokens))

    def _grammar(self, regex: str):
        import xgrammar as xgr

        if self._compiler is None:
            eos = self._model.generation_config.eos_token_id
            stop = list(eos) if isinstance(eos, (list, tuple)) else [eos if eos is not None else self._tok.eos_token_id]
            info = xgr.TokenizerInfo.from_huggingface(self._tok, vocab_size=self._model.config.vocab_size,
                                                      stop_token_ids=stop)
            self._compiler = xgr.GrammarCompiler(info)
        if regex not in self._grammars:
            self._grammars[regex] = self._compiler.compile_grammar(xgr.Grammar.from_regex(regex))
        return self._grammars[regex]

    def _token_text(self, token_id: int) -> str:
        text = self._texts.get(token_id)
        if text is None:
            text = self._texts[token_id] = self._tok.decode([token_id], skip_special_tokens=True)
        return text

    def _generate_batch(self, prompt: Prompt, batch_size: int, params: GenerationParams, regex: str | None,
                        max_new_tokens: int, seed: int, guide: RowGuide | None = None) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList
        from transformers.generation.logits_process import (
            RepetitionPenaltyLogitsProcessor,
            TemperatureLogitsWarper,
            TopKLogitsWarper,
            TopPLogitsWarper,
        )

        self.load()
        ids, cache = self._prefill(self.prompt_text(prompt))
        wanted, batch_size = batch_size, (params.batch_size if self.compiling else batch_size)  # compiled: one shape
        # Order matters: the grammar mask must come before top-k/top-p, or they could keep only
        # tokens the grammar forbids and leave nothing to sample.
        procs = LogitsProcessorList()
        if params.repetition_penalty != 1.0:
            procs.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
        if regex is not None:
            import xgrammar as xgr

            procs.append(xgr.contrib.hf.LogitsProcessor(self._grammar(regex)))
            if guide is not None:  # after the grammar: it only narrows what the grammar allows
                procs.append(RuleLogitsProcessor(guide, self._token_text, ids.shape[1], batch_size, seed))
        procs.append(TemperatureLogitsWarper(params.temperature))
        if params.top_k:
            procs.append(TopKLogitsWarper(params.top_k))
        if params.top_p < 1.0:
            procs.append(TopPLogitsWarper(params.top_p))
        input_ids = ids.repeat(batch_size, 1)
        gen_cfg = GenerationConfig(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
                                   pad_token_id=self._tok.pad_token_id, disable_compile=not self.compiling,
                                   eos_token_id=self._model.generation_config.eos_token_id or self._tok.eos_token_id)
        shared = _shared.shared_prefix(cache, ids.shape[1] - 1) if self.shared_prefix else contextlib.nullcontext()
        if self.compiling and (batch_size, ids.shape[1], max_new_tokens) not in self._compiled:
            self._warm_up(input_ids, cache, max_new_tokens, gen_cfg, shared)
        kv = self._batch_cache(cache, ids.shape[1], batch_size, max_new_tokens)
        torch.manual_seed(seed)
        with torch.inference_mode(), shared, _no_cache_deprecation():
            out = self._model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                       past_key_values=kv, generation_config=gen_cfg, logits_processor=procs)
        out = out[:wanted]  # the padding sequences of a compiled run's last batch are dropped here
        new = out[:, ids.shape[1]:]  # decode only the new tokens, never the prompt
        pad = self._tok.pad_token_id
        comps = []
        for row in new:
            n = int((row != pad).sum().item()) + (1 if (row == pad).any() else 0)  # + the EOS that ended it
            comps.append(Completion(self._tok.decode(row, skip_special_tokens=True), min(n, row.shape[0])))
        return comps
