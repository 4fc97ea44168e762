#!/usr/bin/env bash
# One-host team stack: PostgreSQL (loopback) + MLflow server (PostgreSQL backend, proxied artifacts)
# + N tune workers on one Optuna study.
#
#   scripts/team_stack.sh up [N_WORKERS] [N_TRIALS_PER_WORKER]   # default 2 workers x 10 trials
#   scripts/team_stack.sh finalize                               # summarise + register the champion
#   scripts/team_stack.sh stop
#
# Env: STACK_DIR (./.team_stack), PG_PORT (5433), MLFLOW_PORT (5000), STUDY (synllm-team), DATASET (cirrhosis),
#      N_ROWS (50), EXTRA_P (more "-P k=v" for every worker).
set -euo pipefail
cd "$(dirname "$0")/.."
STACK_DIR=${STACK_DIR:-$PWD/.team_stack}; PG_PORT=${PG_PORT:-5433}; MLFLOW_PORT=${MLFLOW_PORT:-5000}
STUDY=${STUDY:-synllm-team}; DATASET=${DATASET:-cirrhosis}; N_ROWS=${N_ROWS:-50}; EXTRA_P=${EXTRA_P:-}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "PostgreSQL not found: apt-get install -y postgresql" >&2; exit 1; }
# SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; we ship psycopg2-binary
PG_URL="postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT"
export MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_PORT" MLFLOW_DISABLE_TELEMETRY=true
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }  # postgres refuses root

up() {
  local workers=${1:-2} trials=${2:-10}
  mkdir -p "$STACK_DIR/logs"
  [ "$(id -u)" = 0 ] && chown postgres "$STACK_DIR"
  if [ ! -d "$STACK_DIR/pg" ]; then
    as_pg "$PGBIN/initdb" -D "$STACK_DIR/pg" -U postgres --auth=trust >"$STACK_DIR/logs/initdb.log"
  fi
  as_pg "$PGBIN/pg_ctl" -D "$STACK_DIR/pg" -l "$STACK_DIR/pg.log" -w start \
    -o "-p $PG_PORT -k $STACK_DIR -c listen_addresses=127.0.0.1"
  for db in mlflow optuna; do
    as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$db" 2>/dev/null || true
  done
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false nohup mlflow server --backend-store-uri "$PG_URL/mlflow" \
    --artifacts-destination "$STACK_DIR/mlartifacts" --serve-artifacts --host 127.0.0.1 --port "$MLFLOW_PORT" \
    --workers 1 >"$STACK_DIR/logs/mlflow.log" 2>&1 &
  echo $! >"$STACK_DIR/mlflow.pid"
  for _ in $(seq 60); do curl -sf "$MLFLOW_TRACKING_URI/health" >/dev/null && break; sleep 1; done
  # create the study (and Optuna's schema) once, before workers race to
  python -c "import optuna; optuna.create_study(storage='$PG_URL/optuna', study_name='$STUDY', directions=['maximize','minimize'], load_if_exists=True)"
  for i in $(seq 1 "$workers"); do
    # shellcheck disable=SC2086
    nohup mlflow run . -e tune --env-manager local -P dataset="$DATASET" -P storage="$PG_URL/optuna" \
      -P study_name="$STUDY" -P n_trials="$trials" -P n_rows="$N_ROWS" -P sampler_seed="$i" -P register=false \
      $EXTRA_P >"$STACK_DIR/logs/worker-$i.log" 2>&1 &
    echo $! >>"$STACK_DIR/workers.pid"
  done
  echo "MLflow UI: $MLFLOW_TRACKING_URI  study: $STUDY on $PG_URL/optuna  logs: $STACK_DIR/logs"
}

finalize() {
  mlflow run . -e tune --env-manager local -P dataset="$DATASET" -P storage="$PG_URL/optuna" \
    -P study_name="$STUDY" -P n_trials=0 -P register=true
}

stop() {
  if [ -f "$STACK_DIR/workers.pid" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$STACK_DIR/workers.pid"; rm -f "$STACK_DIR/workers.pid"
  fi
  if [ -f "$STACK_DIR/mlflow.pid" ]; then kill "$(cat "$STACK_DIR/mlflow.pid")" 2>/dev/null || true; rm -f "$STACK_DIR/mlflow.pid"; fi
  [ -d "$STACK_DIR/pg" ] && as_pg "$PGBIN/pg_ctl" -D "$STACK_DIR/pg" -m fast stop || true
}

case "${1:-}" in
  up) shift; up "$@" ;;
  finalize) finalize ;;
  stop) stop ;;
  *) echo "usage: $0 up [N_WORKERS] [N_TRIALS] | finalize | stop" >&2; exit 2 ;;
esac
