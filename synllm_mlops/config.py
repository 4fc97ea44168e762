"""One validated run configuration shared by the CLI, the MLproject entry points, grids and tuning.

:class:`RunConfig` holds the run's own settings and one nested group per stage (:class:`PromptOptions`,
:class:`GenerationParams`, :class:`CalibrationOptions`). Each field is defined once, with its default, limits and help text; the
``synllm`` options are generated from these fields (see :mod:`synllm_mlops.cli_options`). Field names
are unique across groups, so a run is also addressed flat (``temperature=0.7``), which is how its MLflow
params, grid overrides and tuning suggestions name it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synllm_mlops.calibration import CalibrationOptions
from synllm_mlops.errors import ConfigError
from synllm_mlops.generation import DEFAULT_MODEL, GenerationParams
from synllm_mlops.prompts import STRATEGIES, PromptOptions


def _group_fields(cls: type[BaseModel]) -> dict[str, str]:
    """``{leaf field: group name}`` for the nested groups of ``cls`` (any field typed as a pydantic model)."""
    out: dict[str, str] = {}
    for name, f in cls.model_fields.items():
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel):
            for leaf in f.annotation.model_fields:
                if leaf in cls.model_fields or leaf in out:
                    raise TypeError(f"{cls.__name__}: field {leaf!r} of group {name!r} is defined twice")
                out[leaf] = name
    return out


def config_error(what: str, e: ValidationError) -> ConfigError:
    """pydantic's errors as one :class:`ConfigError` naming each key, the rule and the value received."""
    lines = [f"  - {'.'.join(map(str, err['loc']))}: {err['msg']} (got {err.get('input')!r})" for err in e.errors()]
    return ConfigError(f"invalid {what}:\n" + "\n".join(lines))


class RunConfig(BaseModel):
    """Everything one generation (+ evaluation) run needs; a misspelt key is an error.

    Example:
        >>> cfg = RunConfig(dataset="cirrhosis", strategy="clin_rule", n_rows=50, temperature=0.7)
        >>> cfg.generation.temperature, cfg.flat_params()["temperature"]
        (0.7, 0.7)
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(default="cirrhosis", description="built-in dataset name or spec YAML path")
    data: str = Field(default="", description="real CSV path (empty = the dataset's built-in data)")
    strategy: str = Field(default="clin_rule", description=" | ".join(STRATEGIES))
    model: str = Field(default=DEFAULT_MODEL, description="catalog alias, HF id or local dir")
    backend: str = Field(default="hf", description="hf | vllm | fake (tests)")
    n_rows: int = Field(default=200, ge=1, le=1_000_000, description="valid rows to generate")
    seed: int = Field(default=0, ge=0, description="data split + sampling seed")
    constrained: bool = Field(default=True, description="grammar-constrained decoding")
    max_attempts: int = Field(default=0, ge=0, description="completion budget (0 = 3x what n_rows needs)")
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1, description="share of the real rows held out")
    # nested groups: adding a group is adding one field here
    prompt: PromptOptions = Field(default_factory=PromptOptions)
    generation: GenerationParams = Field(default_factory=GenerationParams)
    calibrate: CalibrationOptions = Field(default_factory=CalibrationOptions)

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r}; choose one of: {', '.join(STRATEGIES)}")
        return v

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, data: Any) -> Any:
        """Accept flat keys (``temperature=0.7``) next to nested groups (``generation={...}``)."""
        if not isinstance(data, dict):
            return data
        groups = _group_fields(cls)
        out = {k: v for k, v in data.items() if k not in groups}
        for leaf, group in groups.items():
            if leaf in data:
                g = out.get(group, {})
                g = g.model_dump() if isinstance(g, BaseModel) else dict(g)
                out[group] = {**g, leaf: data[leaf]}
        return out

    @classmethod
    def flat_fields(cls) -> dict[str, Any]:
        """Every leaf field by its flat name -> its pydantic ``FieldInfo`` (groups expanded)."""
        groups = _group_fields(cls)
        out = {k: f for k, f in cls.model_fields.items() if k not in set(groups.values())}
        for leaf, group in groups.items():
            out[leaf] = cls.model_fields[group].annotation.model_fields[leaf]
        return out

    @classmethod
    def build(cls, **kwargs) -> "RunConfig":
        """Validate keyword arguments (flat or nested; ``None`` = default) into one clear :class:`ConfigError`."""
        try:
            return cls(**{k: v for k, v in kwargs.items() if v is not None})
        except ValidationError as e:
            raise config_error("run configuration", e) from None

    @classmethod
    def from_sources(cls, config_file: str | Path | None = None, **explicit) -> "RunConfig":
        """Defaults < the YAML ``config_file`` (flat or nested keys) < ``explicit`` values (flags the user set)."""
        return cls.build(**merge_sources(config_file, explicit))

    def flat_params(self) -> dict[str, Any]:
        """The run's settings flat, as MLflow params (the names users compare runs by; lists comma-joined)."""
        d = self.model_dump()
        out = {k: v for k, v in d.items() if not isinstance(v, dict)}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(v)
        return {k: ",".join(map(str, v)) if isinstance(v, (tuple, list)) else v for k, v in out.items()}

    def completion_budget(self) -> int:
        """Maximum completions to sample before keeping what we have."""
        if self.max_attempts:
            return self.max_attempts
        return max(self.generation.batch_size, 3 * -(-self.pool_size() // self.prompt.rows_per_completion))

    def pool_size(self) -> int:
        """Valid rows to generate: ``n_rows``, or ``oversample`` times that when calibration selects."""
        return self.calibrate.pool_size(self.n_rows)


def merge_sources(config_file: str | Path | None, explicit: dict[str, Any]) -> dict[str, Any]:
    """The keys of a YAML config file (flat; a nested group is flattened) overridden by ``explicit``."""
    merged: dict[str, Any] = {}
    if config_file:
        import yaml

        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file must be an existing YAML file, got {str(config_file)!r}")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(config_file)!r} must hold a mapping of settings, got {type(loaded).__name__}")
        for k, v in loaded.items():
            merged.update(v if isinstance(v, dict) else {k: v})
    merged.update(explicit)
    return merged
