"""The comparison grid: a YAML of models x strategies x datasets x calibrations x release levels x seeds,
validated once, expanded to cells."""

from __future__ import annotations

import hashlib
import json
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from synllm_mlops.calibration import CalibrationOptions
from synllm_mlops.config import RunConfig
from synllm_mlops.errors import ConfigError
from synllm_mlops.prompts import STRATEGIES, PromptOptions
from synllm_mlops.release import ReleaseLevel

# The grid sets these itself, per cell; an override of one would silently fight the grid.
_GRID_KEYS = ("model", "strategy", "dataset", "data", "seed", "n_rows", "backend", "calibration", "release_level")
_DEFAULT_LEVEL = PromptOptions.model_fields["release_level"].default
# run setting -> the grid axis it is drawn from; an arm may fix one (the axis then has that one value in the arm)
_AXES = {"strategy": "strategies", "calibration": "calibrations", "release_level": "release_levels"}
#: the model of a cell whose backend writes rows without a language model (``stats``): one cell per dataset x seed
NO_MODEL = "stats"


class DatasetEntry(BaseModel):
    """A dataset of the grid: a built-in name or spec YAML path, optionally the real CSV and its own row count."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    data: str = ""
    n_rows: int | None = Field(default=None, ge=1, description="rows per cell for this dataset; default the grid's")
    seeds: list[int] | None = Field(default=None, min_length=1, description="seeds for this dataset; default the grid's")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (any(s < 0 for s in v) or len(set(v)) != len(v)):
            raise ValueError(f"seeds must be distinct integers >= 0, got {v}")
        return v


class VLLMSettings(BaseModel):
    """Engine options passed to ``vllm.LLM`` (backend ``vllm`` only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tensor_parallel_size: int = Field(default=1, ge=1)
    dtype: str = "auto"
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    max_model_len: int | None = Field(default=None, ge=1)


class Arm(BaseModel):
    """A named set of run settings crossed with the grid's models x datasets x seeds (and its other axes).

    ``backend`` defaults to the grid's; a ``stats`` arm has no language model, so it runs once per dataset x
    seed (its cells' model is ``stats``) instead of once per model. ``overrides`` may fix an axis
    (``strategy``, ``calibration``) for this arm; the keys the grid sets per cell (model, dataset, data,
    seed, n_rows, backend) are refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.+]+$",
                      description="letters, digits, _ . + (it starts every cell and MLflow run name of the arm)")
    backend: Literal["hf", "vllm", "fake", "stats"] | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, v: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(set(v) & (set(_GRID_KEYS) - set(_AXES)))
        if clash:
            raise ValueError(f"an arm's overrides cannot set {clash}: the grid sets them per cell (the arm's backend "
                             "is its own key `backend:`); remove them from the arm")
        unknown = sorted(set(v) - set(RunConfig.flat_fields()))
        if unknown:
            raise ValueError(f"unknown RunConfig fields {unknown} in an arm's overrides; allowed: "
                             f"{', '.join(sorted(set(RunConfig.flat_fields()) - set(_GRID_KEYS) | set(_AXES)))}")
        return v

    @property
    def model_free(self) -> bool:
        return self.backend == "stats"


class GridConfig(BaseModel):
    """A comparison grid; every cell is one :class:`RunConfig`.

    Example:
        >>> g = GridConfig(name="t", models=["smollm2-135m"], strategies=["clin_rule"], datasets=["cirrhosis"],
        ...                seeds=[0, 1], n_rows=16, backend="fake")
        >>> len(g.cells())
        2
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    models: list[str] = Field(min_length=1)
    strategies: list[str] = Field(default_factory=lambda: list(STRATEGIES), min_length=1)
    datasets: list[DatasetEntry] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    calibrations: list[Literal["none", "select", "steer", "select+steer"]] = Field(
        default_factory=lambda: [CalibrationOptions.model_fields["calibration"].default], min_length=1,
        description="calibration modes to compare (default: the run default only)")
    release_levels: list[ReleaseLevel] = Field(
        default_factory=lambda: [_DEFAULT_LEVEL], min_length=1,
        description="release levels to compare (default: the run default only); level none pairs only with "
        "calibration none (it releases nothing to calibrate on): its other cells are left out")
    n_rows: int = Field(default=200, ge=1)
    backend: Literal["hf", "vllm", "fake"] = "hf"
    overrides: dict[str, Any] = Field(default_factory=dict)
    arms: list[Arm] = Field(default_factory=list, description="named run settings crossed with the grid (none: one "
                            "implicit arm of the grid's backend and overrides)")
    vllm: VLLMSettings = Field(default_factory=VLLMSettings)

    @field_validator("datasets", mode="before")
    @classmethod
    def _datasets(cls, v):
        return [{"name": d} if isinstance(d, str) else d for d in v] if isinstance(v, list) else v

    @field_validator("strategies")
    @classmethod
    def _strategies(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s not in STRATEGIES]
        if bad:
            raise ValueError(f"unknown strategies {bad}; choose from: {', '.join(STRATEGIES)}")
        return v

    @field_validator("release_levels")
    @classmethod
    def _levels(cls, v: list[str], info) -> list[str]:
        if "none" in v and "none" not in info.data.get("calibrations", ["none"]):
            raise ValueError(f"release level none releases nothing to calibrate on, so it runs only with calibration "
                             f"none, which calibrations {info.data.get('calibrations')} does not list; fix: add none "
                             "to calibrations, or drop none from release_levels")
        if len(set(v)) != len(v):
            raise ValueError(f"release_levels must be distinct, got {v}")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if any(s < 0 for s in v) or len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct integers >= 0, got {v}")
        return v

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, v: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(set(v) & set(_GRID_KEYS))
        if clash:
            raise ValueError(f"overrides cannot set {clash}: the grid sets them per cell; use the grid keys "
                             f"({', '.join(_GRID_KEYS)}) instead")
        unknown = sorted(set(v) - set(RunConfig.flat_fields()))
        if unknown:
            raise ValueError(f"unknown RunConfig fields {unknown}; allowed: "
                             f"{', '.join(sorted(set(RunConfig.flat_fields()) - set(_GRID_KEYS)))}")
        return v

    @field_validator("arms")
    @classmethod
    def _arms(cls, v: list[Arm]) -> list[Arm]:
        names = [a.name for a in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"arm names must be distinct, got {dup} more than once; rename the arms")
        return v

    def cells(self, *, digests: bool = True) -> list[Cell]:
        """All cells, grouped by model (each model is loaded once; model-free arms last) then arm, dataset,
        strategy, calibration, seed (the dataset's own seeds where it lists them).

        Each cell's identity covers its resolved RunConfig, its arm's name, its spec's digest and its real
        data's digest, so editing a spec or a CSV re-runs the cells that use it (and only those).
        ``digests=False`` skips reading the specs and tables (only to validate the configurations: the hashes
        are then incomplete).
        """
        out, seen = [], {}
        models = list(dict.fromkeys(self.models + [NO_MODEL]))
        for model, arm in itertools.product(models, self.arms or [None]):
            backend = (arm.backend if arm is not None else None) or self.backend
            if (model == NO_MODEL) != (backend == "stats"):
                continue
            fixed = arm.overrides if arm is not None else {}
            axes = {k: [fixed[k]] if k in fixed else getattr(self, axis) for k, axis in _AXES.items()}
            runs = [(ds, strategy, calib, level, seed) for ds, strategy, calib, level
                    in itertools.product(self.datasets, axes["strategy"], axes["calibration"], axes["release_level"])
                    for seed in ds.seeds or self.seeds
                    if not (level == "none" and calib != "none")]  # nothing released to calibrate on (validated)
            for ds, strategy, calib, level, seed in runs:
                cfg = RunConfig.build(**{**self.overrides, **fixed, "model": model, "strategy": strategy,
                                         "dataset": ds.name, "data": ds.data, "seed": seed,
                                         "n_rows": ds.n_rows or self.n_rows, "backend": backend,
                                         "calibration": calib, "release_level": level})
                if (ds.name, ds.data) not in seen:  # each dataset is read once per expansion
                    seen[ds.name, ds.data] = dataset_digests(ds.name, ds.data) if digests else ("", "")
                spec_digest, data_digest = seen[ds.name, ds.data]
                name = arm.name if arm is not None else ""
                out.append(Cell(cfg, cell_hash(cfg, spec_digest, data_digest, name), spec_digest, data_digest, name))
        return out


@dataclass(frozen=True)
class Cell:
    """One run of the grid and the hash of its resolved configuration (what a re-run matches on)."""

    config: RunConfig
    hash: str
    spec_digest: str = ""
    data_digest: str = ""
    arm: str = ""

    @property
    def name(self) -> str:
        c = self.config
        mode = c.calibrate.calibration
        calib = "" if mode == CalibrationOptions.model_fields["calibration"].default else f"-{mode}"
        level = "" if c.prompt.release_level == _DEFAULT_LEVEL else f"-{c.prompt.release_level}"
        arm = f"{self.arm}-" if self.arm else ""
        return f"{arm}{c.model}-{Path(c.dataset).stem}-{c.strategy}{calib}{level}-s{c.seed}"


def cell_hash(cfg: RunConfig, spec_digest: str = "", data_digest: str = "", arm: str = "") -> str:
    """A stable short hash of what a cell's result depends on: its resolved run configuration (flat params),
    the digest of its spec, the digest of its real table and its arm's name when it has one (JSON, keys sorted;
    a grid without arms keeps the hashes it had before arms existed, so its finished cells still resume)."""
    identity = {**cfg.flat_params(), "_spec_digest": spec_digest, "_data_digest": data_digest,
                **({"_arm": arm} if arm else {})}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def dataset_digests(dataset: str, data: str = "") -> tuple[str, str]:
    """(spec digest, data digest) of a grid dataset: the validated spec's canonical JSON, and the digest the
    pipeline logs as ``data_digest`` (of the conformed real table, so a re-saved but equal CSV keeps it).

    A spec or table that cannot be loaded gets a digest naming the error: its cells then fail in their own
    runs with the full message, as before, and re-run once the file is fixed.
    """
    from synllm_mlops.errors import SynLLMError
    from synllm_mlops.spec import data_digest, load_data, load_spec

    try:
        spec = load_spec(dataset)
    except SynLLMError as e:
        return f"error:{type(e).__name__}", ""
    spec_digest = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]
    try:
        return spec_digest, data_digest(load_data(spec, data or None))
    except SynLLMError as e:
        return spec_digest, f"error:{type(e).__name__}"


def in_shard(cell_hash_: str, shard: tuple[int, int]) -> bool:
    """Whether a cell belongs to shard ``k`` of ``n`` (``shard = (k, n)``): a fixed partition by cell hash, the same
    on every machine, whatever the order or the subset of cells a worker sees."""
    k, n = shard
    return int(cell_hash_, 16) % n == k


def parse_shard(text: str) -> tuple[int, int] | None:
    """``"k/n"`` -> ``(k, n)`` with ``0 <= k < n``; ``""`` -> None (no sharding).

    Raises:
        ConfigError: anything else, naming the value and the expected form.
    """
    if not text:
        return None
    k, sep, n = text.partition("/")
    if sep and k.strip().isdigit() and n.strip().isdigit() and 0 <= int(k) < int(n):
        return int(k), int(n)
    raise ConfigError(f"shard must be k/n with 0 <= k < n (e.g. 0/4, or $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT), "
                      f"got {text!r}")


def _describe(err: dict, allowed: list[str]) -> str:
    key = ".".join(map(str, err["loc"]))
    if err["type"] == "extra_forbidden":
        return f"  - {key}: unknown key (got {err.get('input')!r}); allowed keys here: {', '.join(allowed)}"
    if err["type"] == "missing":
        return f"  - {key}: required key is missing; add it to the YAML"
    return f"  - {key}: {err['msg']} (got {err.get('input')!r})"


def load_grid(path: str | Path) -> GridConfig:
    """Read and validate a grid YAML; every problem is reported with its key, value and fix.

    Raises:
        ConfigError: missing file, bad YAML, unknown or invalid keys, or a cell that is not a valid RunConfig.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"grid config {str(path)!r} does not exist; pass --config <path to a grid YAML>, "
                          "e.g. experiments/cpu_grid.yaml")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"grid config {str(path)!r} is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"grid config {str(path)!r} must be a mapping of keys (name, models, ...), "
                          f"got {type(raw).__name__}")
    try:
        grid = GridConfig(**raw)
    except ValidationError as e:
        allowed = {"datasets": list(DatasetEntry.model_fields), "vllm": list(VLLMSettings.model_fields),
                   "arms": list(Arm.model_fields)}
        lines = [_describe(err, allowed.get(str(err["loc"][0]), list(GridConfig.model_fields))) for err in e.errors()]
        raise ConfigError(f"invalid grid config {str(path)!r}:\n" + "\n".join(lines)) from None
    try:
        grid.cells(digests=False)  # overrides that are invalid values (e.g. temperature: -1) surface now, not mid-grid
    except ConfigError as e:
        arms = "".join(f", arm {a.name!r} {a.overrides}" for a in grid.arms)
        raise ConfigError(f"invalid grid config {str(path)!r}: overrides {grid.overrides}{arms} give {e}") from None
    return grid
