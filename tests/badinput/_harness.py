"""Table-driven bad-input cases: each ends with exit code 2 (HTTP 4xx for the serving API) and one
message naming the problem, the value and the fix; no traceback; nothing written or lost.

A case is data (:class:`Case`); ``check_cli`` runs it in-process through click and ``check_mlproject``
through the MLproject entry point's own command (MLflow's quoting, a real subprocess). Files a case
needs are made by its ``setup`` in the work folder; the tracking store lives outside that folder, so
"nothing written" is checked on the user's files only.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # ``synllm`` arguments; "{work}" is replaced by the work folder
    problem: str  # substring of the message that names the problem
    value: str  # substring: the offending value, as the user wrote it
    fix: str  # substring that names the fix
    setup: Callable[[Path], None] | None = None
    env: dict[str, str] = field(default_factory=dict)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by relative path -> sha256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _prepare(case: Case, tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    work = tmp_path / "work"
    work.mkdir()
    if case.setup:
        case.setup(work)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}",
           "MLFLOW_EXPERIMENT_NAME": "synllm-badinput", "SYNLLM_GUARD_KEY_DIR": str(tmp_path / "keys"),
           "MLFLOW_DISABLE_TELEMETRY": "true", **case.env}
    (tmp_path / "store").mkdir()
    return work, env, snapshot(work)


def _expand(argv, work: Path) -> list[str]:
    return [a.replace("{work}", str(work)) for a in argv]


def assert_clean_error(case: Case, code: int, output: str, work: Path, before: dict[str, str]) -> None:
    assert "Traceback" not in output, f"{case.id}: traceback\n{output[-3000:]}"
    assert code == 2, f"{case.id}: exit code {code}\n{output[-3000:]}"
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, f"{case.id}: want one 'error:' line\n{output[-3000:]}"
    text = output.replace(str(work), "{work}")
    for what in ("problem", "value", "fix"):
        want = getattr(case, what).replace(str(work), "{work}")
        assert want in text, f"{case.id}: the message does not name the {what} ({want!r})\n{output[-3000:]}"
    assert snapshot(work) == before, f"{case.id}: the user's files changed"


def check_cli(case: Case, tmp_path: Path, monkeypatch) -> str:
    """Run ``synllm <argv>`` in-process (click), from the work folder."""
    from click.testing import CliRunner

    from synllm_mlops.cli import cli

    work, env, before = _prepare(case, tmp_path)
    for var in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(work)
    r = CliRunner().invoke(cli, _expand(case.argv, work))
    output = r.output  # click >= 8.2 mixes stderr into output
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        import traceback

        output += "Traceback\n" + "".join(traceback.format_exception(r.exception))
    assert_clean_error(case, r.exit_code, output, work, before)
    return output


def check_mlproject(entry: str, params: dict[str, str], case: Case, tmp_path: Path) -> str:
    """Run the MLproject entry point's command as ``mlflow run`` would (its quoting), in a subprocess."""
    from mlflow.projects._project_spec import load_project

    work, env, before = _prepare(case, tmp_path)
    ep = load_project(str(ROOT)).get_entry_point(entry)
    full = {k: p.default for k, p in ep.parameters.items() if p.default is not None}
    full.update({k: v.replace("{work}", str(work)) for k, v in params.items()})
    cmd = ep.compute_command(full, storage_dir=str(tmp_path / "dl"))
    argv = shlex.split(cmd)
    argv[0:1] = [sys.executable] if argv[0] == "python" else argv[0:1]
    p = subprocess.run(argv, cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                       capture_output=True, text=True, timeout=300)
    output = p.stdout + p.stderr
    assert_clean_error(case, p.returncode, output, work, before)
    return output
