"""One validated run configuration shared by the CLI, the MLproject entry points, grids and tuning.

:class:`RunConfig` holds the run's own settings and one nested group per stage (:class:`PromptOptions`,
:class:`GenerationParams`, :class:`CalibrationOptions`). Each field is defined once, with its default, limits and help text; the
``synllm`` options are generated from these fields (see :mod:`synllm_mlops.cli_options`). Field names
are unique across groups, so a run is also addressed flat (``temperature=0.7``), which is how its MLflow
params, grid overrides and tuning suggestions name it.
"""

from __future__ import annotations

import difflib
import types
import typing
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from synllm_mlops.calibration import CalibrationOptions
from synllm_mlops.errors import ConfigError, show
from synllm_mlops.generation import DEFAULT_MODEL, GenerationParams
from synllm_mlops.prompts import STRATEGIES, PromptOptions

Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
"""A seed: numpy and scikit-learn take 32-bit unsigned seeds, so a larger one is refused up front."""


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


def _bound(x: Any) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def field_rule(info: FieldInfo) -> str:
    """What a field accepts, from its annotation and limits: ``"a whole number >= 1 and <= 1000000"``."""
    ann, metadata = info.annotation, list(info.metadata)
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    or_none = ""
    if typing.get_origin(ann) in (typing.Union, types.UnionType) and len(args) == 1:
        ann = args[0]  # Optional[X]: X's rule (an empty value means "not set")
        or_none = " or none" if info.default not in (None, PydanticUndefined) else ""  # none is a value of its own
    if typing.get_origin(ann) is Annotated:  # Optional[Seed]: the limits live inside the union
        ann, *extra = typing.get_args(ann)
        metadata += [m for x in extra for m in (x.metadata if isinstance(x, FieldInfo) else [x])]
    if typing.get_origin(ann) is typing.Literal:
        return "one of: " + ", ".join(map(str, typing.get_args(ann)))
    kind = {bool: "true or false", int: "a whole number", float: "a number", str: "a text"}.get(ann, "a valid value")
    limits = [f"{op} {_bound(getattr(m, k))}" for m in metadata
              for k, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")) if getattr(m, k, None) is not None]
    return " ".join([kind, " and ".join(limits)]).strip() + or_none


def _flag(name: str, info: FieldInfo | None) -> str:
    extra = info.json_schema_extra if info is not None and isinstance(info.json_schema_extra, dict) else {}
    return "--" + str(extra.get("flag", name)).replace("_", "-")


_PARSING = {"int_parsing": "not an integer", "int_from_float": "not an integer", "int_type": "not an integer",
            "float_parsing": "not a number", "float_type": "not a number", "bool_parsing": "not true or false",
            "bool_type": "not true or false"}


def _one_error(err: dict, fields: dict[str, FieldInfo]) -> str:
    loc = ".".join(map(str, err["loc"]))
    leaf = str(err["loc"][-1]) if err["loc"] else ""
    msg = _PARSING.get(err["type"], err["msg"].removeprefix("Value error, "))
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(leaf, list(fields), n=1)
        hint = f"did you mean {close[0]}?" if close else "see --help for the known settings"
        return f"{loc}: unknown key (got {show(err.get('input'), numeric_text_bare=True)}); fix: remove it ({hint})"
    if not leaf:  # a whole-model rule: its message names the fields, the values and the fix
        return msg
    if err["type"] == "value_error":  # our validators' messages name the value and the fix themselves
        return f"{loc}: {msg}"
    info = fields.get(leaf)
    text = f"{loc}: {msg} (got {show(err.get('input'), numeric_text_bare=True)})"
    if info is None:
        return text
    default = info.default_factory() if info.default_factory else info.default
    default = "" if default is PydanticUndefined else f", or leave it out (default: {default_text(default)})"
    return f"{text}; fix: set {leaf} ({_flag(leaf, info)}) to {field_rule(info)}{default}"


def default_text(value: Any) -> str:
    """A default as a flag would spell it (``none``, ``true``, ``a,b``)."""
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def config_error(what: str, e: ValidationError, fields: dict[str, FieldInfo] | None = None) -> ConfigError:
    """pydantic's errors as one one-line :class:`ConfigError`: each key, the rule, the value as written and the fix.

    ``fields`` (flat name -> field) supplies the flag names, limits and defaults the fixes quote.
    """
    fields = fields if fields is not None else RunConfig.flat_fields()
    return ConfigError(f"invalid {what}: " + "; ".join(_one_error(err, fields) for err in e.errors()))


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
    backend: str = Field(default="hf", description="hf | vllm | stats (no LLM: the control) | fake (tests)")
    n_rows: int = Field(default=200, ge=1, le=1_000_000, description="valid rows to generate")
    seed: Seed = Field(default=0, description="data split + sampling seed")
    constrained: bool = Field(default=True, description="grammar-constrained decoding")
    max_attempts: int = Field(default=0, ge=0, description="completion budget (0 = 3x what n_rows needs)")
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1, description="share of the real rows held out")
    control_tables: int = Field(default=5, ge=0, le=100, description="no-LLM control tables (backend=stats, same "
                                "release and split) scored beside an evaluated run, for control/* and lift/* (0 = none)")
    repeats: int = Field(default=1, ge=1, le=100, description="main: run seeds seed .. seed+repeats-1 as nested runs; "
                         "the parent logs each metric's mean over seeds with its 95 % interval (lift paired by seed)")
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

    @model_validator(mode="after")
    def _released_enough(self) -> "RunConfig":
        level, mode = self.prompt.release_level, self.calibrate.calibration
        if level == "none" and self.backend == "stats":  # uniform rows from the spec would be a different control
            raise ValueError("backend 'stats' samples the released calibration targets, but release_level='none' "
                             "releases none; fix: set release_level=marginals, target or pairs (the control of a "
                             "run at that level), or a language-model backend (hf, vllm)")
        if level == "none" and mode != "none":
            raise ValueError(f"calibration={mode!r} steers and selects on the released statistics, but "
                             "release_level='none' releases none; fix: set calibration=none, or release_level="
                             "marginals, target or pairs")
        return self

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
                # only what was set: a field left at its default stays unset (dp_epsilon's default depends on strategy)
                g = g.model_dump(exclude_unset=True) if isinstance(g, BaseModel) else dict(g)
                out[group] = {**g, leaf: data[leaf]}
        return out

    @model_validator(mode="after")
    def _seed_ex_is_not_private(self) -> "RunConfig":
        """``seed_ex`` puts real rows in its prompt, so choosing it is choosing a non-private run: with
        ``dp_epsilon`` left at its default it runs without DP; set explicitly, ``prepare`` refuses the pair."""
        if STRATEGIES[self.strategy].uses_real_rows and "dp_epsilon" not in self.prompt.model_fields_set:
            prompt = self.prompt.model_copy(update={"dp_epsilon": None})
            prompt.__pydantic_fields_set__.discard("dp_epsilon")  # still the default: a rebuild may change strategy
            object.__setattr__(self, "prompt", prompt)
        return self

    @property
    def private(self) -> bool:
        """Whether the run releases its statistics under DP (``dp_epsilon`` not ``none``)."""
        return self.prompt.dp_epsilon is not None

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
        out["dp_epsilon"] = "none" if out["dp_epsilon"] is None else out["dp_epsilon"]  # the effective value, always
        return {k: ",".join(map(str, v)) if isinstance(v, (tuple, list)) else v for k, v in out.items()}

    def given_params(self) -> dict[str, Any]:
        """The settings that were given (flat), defaults left out: what rebuilds this config with other overrides.

        Unlike :meth:`flat_params` (the effective values), a field left at its default stays so, notably
        ``dp_epsilon``, whose effective value depends on the strategy (a tuning trial's ``seed_ex``).
        """
        d = self.model_dump(exclude_unset=True)
        out = {k: v for k, v in d.items() if not isinstance(v, dict)}
        for v in d.values():
            if isinstance(v, dict):
                out.update(v)
        if "dp_epsilon" in out and out["dp_epsilon"] is None:
            out["dp_epsilon"] = "none"
        return out

    def completion_budget(self) -> int:
        """Maximum completions to sample before keeping what we have."""
        if self.max_attempts:
            return self.max_attempts
        batch = self.generation.batch_size if self.generation.batch_size != "auto" else 1  # auto: at most what is needed
        return max(batch, 3 * -(-self.pool_size() // self.prompt.rows_per_completion))

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
            raise ConfigError(f"config file {str(config_file)!r} does not exist; fix: pass --config the path of a YAML "
                              "file of settings (keys as the flags, e.g. n_rows: 50), or leave --config out")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            where = getattr(e, "problem_mark", None)
            at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
            problem = getattr(e, "problem", None) or type(e).__name__
            raise ConfigError(f"config file {str(config_file)!r} is not valid YAML{at}: {problem}; fix: correct the "
                              "YAML there (one `key: value` per line, e.g. n_rows: 50)") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(config_file)!r} must hold a mapping of settings, got a "
                              f"{type(loaded).__name__}; fix: write one `key: value` per line (e.g. n_rows: 50)")
        for k, v in loaded.items():
            merged.update(v if isinstance(v, dict) else {k: v})
    merged.update(explicit)
    return merged


class _Command(BaseModel):
    """Settings of a command that is not a run (``evaluate``, ``probe``), validated like a run's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def build(cls, **kwargs):
        """Validate keyword arguments (``None`` = default) into one clear :class:`ConfigError`."""
        try:
            return cls(**{k: v for k, v in kwargs.items() if v is not None})
        except ValidationError as e:
            raise config_error(f"{cls.__name__.removesuffix('Config').lower()} options", e, cls.model_fields) from None


class EvaluateConfig(_Command):
    """What ``evaluate`` needs: a generation run or a synthetic CSV, and the real data it is judged against."""

    run_id: str = Field(default="", description="a generation run to evaluate")
    synthetic: str = Field(default="", description="or a synthetic CSV path")
    dataset: str = Field(default="", description="dataset (taken from the run when --run-id is given)")
    data: str = Field(default="", description="real CSV path (empty = built-in / the run's)")
    seed: Seed | None = Field(default=None, description="split seed (default: the run's, else 0)")


class ProbeConfig(_Command):
    """What the memorisation probe needs (``probe``)."""

    dataset: str = Field(default="cirrhosis", description="built-in dataset name or spec YAML path")
    data: str = Field(default="", description="real CSV path (empty = the dataset's built-in data)")
    model: str = Field(default=DEFAULT_MODEL, description="catalog alias, HF id or local dir")
    backend: str = Field(default="hf", description="hf | vllm | stats (no LLM: the control) | fake (tests)")
    n_prefix_fields: int = Field(default=0, ge=0, description="fields shown (0 = half the columns)")
    n_probes: int = Field(default=50, ge=1, le=100_000, description="real rows probed")
    seed: Seed = Field(default=0, description="split + probe seed")
