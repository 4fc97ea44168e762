#!/usr/bin/env bash
# One-host team stack: PostgreSQL (loopback, password auth) + MLflow server (basic-auth app, PostgreSQL
# backend store, proxied artifacts) + N tune workers on one Optuna study.
#
#   scripts/team_stack.sh up [N_WORKERS] [N_TRIALS_PER_WORKER]   # default 2 workers x 10 trials
#   scripts/team_stack.sh finalize                               # summarise + register the champion
#   scripts/team_stack.sh stop                                   # workers (whole process groups), server, database
#
# Env: STACK_DIR (./.team_stack), PG_PORT (5433), MLFLOW_PORT (5000), STUDY (synllm-team), DATASET (cirrhosis),
#      EXPERIMENT (synllm), N_ROWS (50), EXTRA_P (more "-P k=v" for every worker), STOP_GRACE_S (15),
#      SYNLLM_HEARTBEAT_S (60: a killed worker's trial is failed after 3 silent intervals),
#      SYNLLM_BACKEND (tests only: fake).
#
# Security: every secret is generated on first `up` and lives only in 0600 files under $STACK_DIR/secrets
# (0700) and $STACK_DIR/.pgpass (0600); none is passed on a command line, logged or printed.
#   PostgreSQL: initdb --auth=scram-sha-256 (superuser `postgres`), an unprivileged role `synllm` owning
#     the mlflow/optuna databases, TCP on 127.0.0.1 only, its Unix socket in a 0700 directory.
#     Clients find passwords through PGPASSFILE=$STACK_DIR/.pgpass; storage URLs carry none.
#   MLflow: `mlflow server --app-name basic-auth` (auth DB and config 0600 in secrets/, default permission
#     READ for authenticated users); an `admin` user and a `synllm-worker` user that the workers log in as,
#     via MLFLOW_TRACKING_USERNAME/PASSWORD in their environment. For the UI: secrets/mlflow-admin.env.
set -euo pipefail
umask 077
cd "$(dirname "$0")/.."
STACK_DIR=${STACK_DIR:-$PWD/.team_stack}; PG_PORT=${PG_PORT:-5433}; MLFLOW_PORT=${MLFLOW_PORT:-5000}
STUDY=${STUDY:-synllm-team}; DATASET=${DATASET:-cirrhosis}; N_ROWS=${N_ROWS:-50}; EXTRA_P=${EXTRA_P:-}
EXPERIMENT=${EXPERIMENT:-synllm}; STOP_GRACE_S=${STOP_GRACE_S:-15}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] || { echo "PostgreSQL not found: apt-get install -y postgresql" >&2; exit 1; }
SECRETS=$STACK_DIR/secrets; PGRUN=$STACK_DIR/pgrun; RUN=$STACK_DIR/run
# no password in any URL: libpq reads it from PGPASSFILE (SQLAlchemy 2.1 defaults postgresql:// to psycopg 3;
# we ship psycopg2-binary)
PG_URL="postgresql+psycopg2://synllm@127.0.0.1:$PG_PORT"
unset MLFLOW_EXPERIMENT_ID MLFLOW_RUN_ID PGPASSWORD  # never inherit ids or a password meant for another store
export PGPASSFILE=$STACK_DIR/.pgpass PGCONNECT_TIMEOUT=10
export MLFLOW_TRACKING_URI="http://127.0.0.1:$MLFLOW_PORT" MLFLOW_DISABLE_TELEMETRY=true MLFLOW_EXPERIMENT_NAME=$EXPERIMENT
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }  # postgres refuses root
genpw() { python -c 'import secrets; print(secrets.token_urlsafe(32))'; }
with_env() { (set -a; . "$1"; set +a; shift; "$@"); }  # run "$@" with the credentials file $1 in its environment
alive() { kill -0 -- "-$1" 2>/dev/null; }  # is any process of group $1 left?
healthy() { python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$MLFLOW_TRACKING_URI/health" 2>/dev/null; }
psql_su() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"; }

init_postgres() {  # once: scram-only cluster, passwords in .pgpass only, unprivileged app role + databases
  local su_pw app_pw pwfile
  su_pw=$(genpw); app_pw=$(genpw)
  printf '127.0.0.1:*:*:postgres:%s\n127.0.0.1:*:*:synllm:%s\n' "$su_pw" "$app_pw" >"$PGPASSFILE"
  chmod 600 "$PGPASSFILE"
  mkdir -p "$STACK_DIR/pg"; chmod 700 "$STACK_DIR/pg"
  pwfile=$PGRUN/initdb.pw
  printf '%s\n' "$su_pw" >"$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres "$STACK_DIR/pg" "$pwfile"
  as_pg "$PGBIN/initdb" -D "$STACK_DIR/pg" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
    >"$STACK_DIR/logs/initdb.log" 2>&1 || { rm -f "$pwfile"; echo "initdb failed: $STACK_DIR/logs/initdb.log" >&2; exit 1; }
  rm -f "$pwfile"
  start_postgres
  # the password travels on stdin (not argv); log_statement is off, so the server does not log it
  psql_su <<SQL
CREATE ROLE synllm LOGIN PASSWORD '$app_pw';
CREATE DATABASE mlflow OWNER synllm;
CREATE DATABASE optuna OWNER synllm;
SQL
}

start_postgres() {
  if as_pg "$PGBIN/pg_ctl" -D "$STACK_DIR/pg" status >/dev/null 2>&1; then return; fi
  as_pg "$PGBIN/pg_ctl" -D "$STACK_DIR/pg" -l "$PGRUN/pg.log" -w start \
    -o "-p $PG_PORT -k $PGRUN -c listen_addresses=127.0.0.1 -c unix_socket_permissions=0700" >/dev/null
}

init_mlflow_auth() {  # once: auth config + admin/worker credentials, 0600
  local admin_pw
  admin_pw=$(genpw)
  cat >"$SECRETS/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$SECRETS/basic_auth.db
admin_username = admin
admin_password = $admin_pw
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
  printf 'MLFLOW_TRACKING_USERNAME=admin\nMLFLOW_TRACKING_PASSWORD=%s\n' "$admin_pw" >"$SECRETS/mlflow-admin.env"
  printf 'MLFLOW_TRACKING_USERNAME=synllm-worker\nMLFLOW_TRACKING_PASSWORD=%s\n' "$(genpw)" >"$SECRETS/mlflow-worker.env"
  printf 'MLFLOW_FLASK_SERVER_SECRET_KEY=%s\n' "$(genpw)" >"$SECRETS/flask.env"
  chmod 600 "$SECRETS"/*
}

# setsid: the command leads a new process group (and session) and records its id, so `stop` can end every
# process under it (mlflow run -> bash -> python) and nothing it started is left behind
spawn() {  # spawn PGID_FILE LOG CMD...
  local pgid_file=$1 log=$2; shift 2
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pgid_file" "$@" >"$log" 2>&1 </dev/null &
  for _ in $(seq 50); do [ -s "$pgid_file" ] && return; sleep 0.1; done
  echo "could not start: $*" >&2; exit 1
}

up() {
  local workers=${1:-2} trials=${2:-10}
  mkdir -p "$STACK_DIR" "$STACK_DIR/logs" "$SECRETS" "$PGRUN" "$RUN"
  chmod 700 "$SECRETS" "$PGRUN" "$RUN" "$STACK_DIR/logs"
  if [ "$(id -u)" = 0 ]; then chmod 711 "$STACK_DIR"; chown postgres "$PGRUN"; else chmod 700 "$STACK_DIR"; fi
  if [ ! -f "$STACK_DIR/pg/PG_VERSION" ]; then init_postgres; else start_postgres; fi
  [ -f "$SECRETS/basic_auth.ini" ] || init_mlflow_auth
  if ! { [ -s "$RUN/mlflow.pgid" ] && alive "$(cat "$RUN/mlflow.pgid")"; }; then
    (export MLFLOW_AUTH_CONFIG_PATH="$SECRETS/basic_auth.ini" MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
     with_env "$SECRETS/flask.env" spawn "$RUN/mlflow.pgid" "$STACK_DIR/logs/mlflow.log" \
       mlflow server --app-name basic-auth --backend-store-uri "$PG_URL/mlflow" \
       --artifacts-destination "$STACK_DIR/mlartifacts" --serve-artifacts --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1)
  fi
  for _ in $(seq 120); do healthy && break; sleep 1; done
  healthy || { echo "mlflow server did not start: $STACK_DIR/logs/mlflow.log" >&2; exit 1; }
  (set -a; . "$SECRETS/mlflow-worker.env"; SYNLLM_NEW_USER=$MLFLOW_TRACKING_USERNAME
   SYNLLM_NEW_PASSWORD=$MLFLOW_TRACKING_PASSWORD; . "$SECRETS/mlflow-admin.env"; set +a
   python scripts/team_stack_helper.py create-user "$EXPERIMENT")
  # create the study (and Optuna's schema) once, before workers race to
  python -c "import optuna, sys; optuna.create_study(storage=sys.argv[1], study_name=sys.argv[2], directions=['maximize','minimize'], load_if_exists=True)" \
    "$PG_URL/optuna" "$STUDY"
  local started first
  started=$(shopt -s nullglob; set -- "$RUN"/worker-*.pgid; echo $#); first=$((started + 1))
  for i in $(seq "$first" $((first + workers - 1))); do
    # shellcheck disable=SC2086
    with_env "$SECRETS/mlflow-worker.env" spawn "$RUN/worker-$i.pgid" "$STACK_DIR/logs/worker-$i.log" \
      mlflow run . -e tune --env-manager local -P dataset="$DATASET" -P storage="$PG_URL/optuna" \
      -P study_name="$STUDY" -P n_trials="$trials" -P n_rows="$N_ROWS" -P sampler_seed="$i" -P register=false $EXTRA_P
  done
  echo "MLflow UI: $MLFLOW_TRACKING_URI (log in with $SECRETS/mlflow-admin.env)  study: $STUDY on $PG_URL/optuna  logs: $STACK_DIR/logs"
}

finalize() {
  with_env "$SECRETS/mlflow-worker.env" mlflow run . -e tune --env-manager local -P dataset="$DATASET" \
    -P storage="$PG_URL/optuna" -P study_name="$STUDY" -P n_trials=0 -P register=true
}

end_groups() {  # TERM every group, wait up to STOP_GRACE_S, then KILL what is left
  local f pgid
  for f in "$@"; do pgid=$(cat "$f"); alive "$pgid" && kill -TERM -- "-$pgid" 2>/dev/null || true; done
  for _ in $(seq $((STOP_GRACE_S * 5))); do
    local left=0
    for f in "$@"; do alive "$(cat "$f")" && left=1; done
    [ "$left" = 0 ] && break; sleep 0.2
  done
  for f in "$@"; do
    pgid=$(cat "$f")
    if alive "$pgid"; then echo "process group $pgid ($(basename "$f" .pgid)) ignored TERM: KILL" >&2; kill -KILL -- "-$pgid" 2>/dev/null || true; fi
    rm -f "$f"
  done
}

stop() {
  shopt -s nullglob
  local workers=("$RUN"/worker-*.pgid)
  [ ${#workers[@]} -gt 0 ] && end_groups "${workers[@]}"
  # every worker is gone: their RUNNING trials -> FAIL, their RUNNING runs -> KILLED (needs server + database)
  if [ -s "$RUN/mlflow.pgid" ] && [ -f "$SECRETS/mlflow-worker.env" ]; then
    with_env "$SECRETS/mlflow-worker.env" python scripts/team_stack_helper.py end-orphans "$PG_URL/optuna" "$STUDY" \
      || echo "warning: could not mark the stopped workers' runs KILLED" >&2
  fi
  [ -s "$RUN/mlflow.pgid" ] && end_groups "$RUN/mlflow.pgid"
  if [ -f "$STACK_DIR/pg/PG_VERSION" ]; then as_pg "$PGBIN/pg_ctl" -D "$STACK_DIR/pg" -m fast stop >/dev/null 2>&1 || true; fi
}

case "${1:-}" in
  up) shift; up "$@" ;;
  finalize) finalize ;;
  stop) stop ;;
  *) echo "usage: $0 up [N_WORKERS] [N_TRIALS] | finalize | stop" >&2; exit 2 ;;
esac
