"""Where a study lives: check a storage before anything is created, open it, and end a stopped study's orphans."""

from __future__ import annotations

import warnings
from pathlib import Path

from synllm_mlops.errors import ConfigError, redact
from synllm_mlops.tuning._faults import fail_trial_runs, heartbeat

DEFAULT_STORAGE = "optuna.sqlite3"
_STORAGE_SCHEMES = ("sqlite", "postgresql", "mysql")
_STORAGE_FORMS = ("a file path (SQLite)", "path.journal", "sqlite:///path.db", "postgresql+psycopg2://user@host:port/db",
                  "mysql://user@host:port/db")


def check_storage(storage: str) -> None:
    """Refuse a storage that cannot work before anything is created: an unknown scheme, a folder that is missing.

    Raises:
        ValueError: naming the storage (password hidden) and the fix.
    """
    shown = redact(storage)
    if "://" in storage:
        scheme = storage.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme not in _STORAGE_SCHEMES:
            raise ValueError(f"unknown storage scheme {scheme + '://'!r} in {shown!r}; fix: pass --storage as one of: "
                             f"{', '.join(_STORAGE_FORMS)}")
        if scheme != "sqlite" or storage.rstrip("/").lower() in ("sqlite:", "sqlite:/"):
            return  # a server database (reached when the study opens) or an in-memory SQLite
        path = Path(storage.split(":///", 1)[-1])
    else:
        path = Path(storage or DEFAULT_STORAGE)
    folder = path.expanduser().parent
    if not folder.is_dir():
        raise ValueError(f"the folder of storage {shown!r} does not exist ({str(folder)!r}); fix: create it "
                         f"(mkdir -p {folder}) or pass --storage a file in an existing folder")


def refuse_logged_secret(storage: str) -> None:
    """Under ``mlflow run`` every ``-P`` value is logged in clear before we start: a password there has leaked.

    Raises:
        ConfigError: when ``storage`` holds a password and this process runs inside ``mlflow run``.
    """
    import os

    if os.environ.get("MLFLOW_RUN_ID") and redact(storage) != storage:
        raise ConfigError(
            f"storage must not hold a password under `mlflow run`, which logs every -P value in clear (run "
            f"{os.environ['MLFLOW_RUN_ID']} now shows it: delete that run and change the password); got "
            f"{redact(storage)!r}. Drop the password from the URL and give it to libpq in a 0600 ~/.pgpass "
            "(or PGPASSFILE / PGPASSWORD), as scripts/team_stack.sh does")


def open_storage(storage: str):
    """``""``/a file path -> SQLite file; ``*.journal`` -> journal file (shared filesystems); a URL -> RDB.

    PostgreSQL storages send heartbeats (every ``SYNLLM_HEARTBEAT_S``, default 60 s): a killed worker's running
    trial is marked FAIL by the next worker to start a trial after 3 silent intervals, and its MLflow runs FAILED.
    """
    import optuna

    storage = storage or DEFAULT_STORAGE
    if storage.endswith(".journal"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(Path(storage).resolve())))
    if "://" not in storage:
        return f"sqlite:///{Path(storage).resolve()}"
    if storage.startswith("postgresql"):  # heartbeats need an RDB that handles concurrent writers
        interval, grace = heartbeat()
        with warnings.catch_warnings():  # heartbeats are "experimental" in optuna; they are our documented choice
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(storage, heartbeat_interval=interval, grace_period=grace,
                                              heartbeat_stale_trial_callback=fail_trial_runs)
    return storage


def end_orphans(storage: str, study_name: str, status: str = "KILLED") -> tuple[list[int], list[str]]:
    """After every worker of ``study_name`` has been stopped: RUNNING trials -> FAIL, RUNNING runs -> ``status``.

    Only safe when no worker of the study is alive anywhere. Returns (trial numbers failed, run ids ended).
    Uses Optuna's public storage API only (no private member of a study or trial).
    """
    import optuna
    from optuna.trial import TrialState

    from synllm_mlops import tracking

    store = open_storage(storage)
    store = optuna.storages.RDBStorage(store) if isinstance(store, str) else store
    study_id = store.get_study_id_from_name(study_name)
    failed = []
    for t in store.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        if store.set_trial_state_values(store.get_trial_id_from_study_id_trial_number(study_id, t.number), TrialState.FAIL):
            failed.append(t.number)
    ended = tracking.end_open_runs({"optuna.study_name": study_name}, status, "worker stopped")
    return failed, ended
