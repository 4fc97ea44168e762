"""tracking only logs: it sits below the stages it records and below serving, and imports none of them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import synllm_mlops

ROOT = Path(synllm_mlops.__file__).resolve().parent
ABOVE_TRACKING = {"pipeline", "config", "generation", "parsing", "serving"}


def _imported(package: str) -> set[str]:
    """synllm_mlops subpackages and top-level modules that ``package``'s modules import (lazy imports included)."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found |= {n.split(".")[1] for n in names if n.startswith("synllm_mlops.")}
            if isinstance(node, ast.ImportFrom) and node.module == "synllm_mlops":
                found |= {a.name for a in node.names}
    return found - {package}


def test_tracking_imports_no_stage_it_records_and_not_serving():
    assert not _imported("tracking") & ABOVE_TRACKING, sorted(_imported("tracking") & ABOVE_TRACKING)


def test_the_check_sees_imports():
    assert {"pipeline", "generation", "config"} <= _imported("serving")  # serving draws rows with the pipeline


def test_importing_serving_imports_no_mlflow():
    code = "import sys, synllm_mlops.serving; print('mlflow' in sys.modules)"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.stdout.strip() == "False", p.stderr[-2000:]
