"""The four SynLLM prompt strategies, built automatically from a spec and the run's release.

Each strategy is a fixed template (registered in the MLflow Prompt Registry by the tracking layer,
a new version whenever its text changes) whose ``{{variables}}`` are filled from the spec and the
:class:`~synllm_mlops.release.Release` (statistics). Only ``seed_ex`` reads the train split itself: it
fills a variable with real rows, and the rendered prompt says so.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from synllm_mlops.errors import ConfigError, ContractViolation, unknown
from synllm_mlops.release import ALL_STATS, DEFAULT_EPSILON, DEFAULT_LEVEL, Release, ReleaseLevel
from synllm_mlops.spec import NA_TOKEN, DatasetSpec

SYSTEM = ("You generate realistic, privacy-preserving synthetic patient records as CSV. "
          "You never copy real patients. You answer with CSV rows only.")

_HEAD = """Table: {{dataset_description}}
Columns, in this order: {{header}}
"""
_TAIL = """Write {{n_rows}} new synthetic patients as CSV rows in exactly this column order, without a header, one patient per line. Write missing values as NA. Vary the patients: they must look like a realistic sample of this population, not like each other."""

TEMPLATES: dict[str, str] = {
    "seed_ex": _HEAD + """
Here are {{n_examples}} example rows of real patients (for the format and value style only; do not repeat them):
{{examples}}

""" + _TAIL,
    "featdesc": _HEAD + """
Feature definitions:
{{definitions}}

""" + _TAIL,
    "statguide": _HEAD + """
Feature definitions:
{{definitions}}

{{statistics}}

{{instruction}}
""" + _TAIL,
    "clin_rule": _HEAD + """
Feature definitions:
{{definitions}}

{{statistics}}

Clinical rules every patient must satisfy:
{{rules}}

{{instruction}}
""" + _TAIL,
}


NO_STATISTICS = "No statistics of the real table were released for this run (release level none)."
"""What statguide and clin_rule carry in place of statistics when the run releases nothing."""

INSTRUCTIONS = {("statguide", True): "Match these statistics across the rows you write.",
                ("statguide", False): "Write values that are plausible for this population.",
                ("clin_rule", True): "Match these statistics and respect every rule.",
                ("clin_rule", False): "Respect every rule."}
"""The closing instruction by strategy and by whether statistics were released (none to match at level none)."""


class PromptOptions(BaseModel):
    """What a prompt carries; every field is a tunable search dimension."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_examples: int = Field(default=5, ge=1, le=50, description="real example rows (seed_ex only)")
    statistics: tuple[str, ...] = Field(default=ALL_STATS, description="families of statistics (statguide, clin_rule)")
    max_correlations: int = Field(default=5, ge=0, le=30, description="notable correlations listed (statguide, clin_rule)")
    max_rules: int | None = Field(default=None, ge=0, description="carry only the first N rules (clin_rule)")
    rows_per_completion: int = Field(default=4, ge=1, le=50, description="rows asked of each completion")
    dp_epsilon: float | None = Field(default=DEFAULT_EPSILON, gt=0,
                                     description="epsilon of the DP release of everything derived from real data; none "
                                                 "= exact, k-floored statistics: an explicit non-private run (seed_ex "
                                                 "is one unless this is set)")
    release_level: ReleaseLevel = Field(
        default=DEFAULT_LEVEL, description="what is released about train (prompt statistics, steering, selection): "
        "none (the spec only) | marginals (per-column) | target (+ target x feature tables, per-class statistics) | "
        "pairs (+ every pair table and correlations); under DP each level is charged for what it releases")
    scramble_names: bool = Field(default=False, description="show columns as opaque names x01, x02, ... with no "
                                 "description, units or rule notes (removes the model's knowledge of the names)")

    @field_validator("dp_epsilon", mode="before")
    @classmethod
    def _none(cls, v):
        """``none`` (CLI, MLproject, YAML, grids) is the explicit non-private choice; an empty value is the default."""
        return None if isinstance(v, str) and v.strip().lower() == "none" else v

    @field_validator("statistics", mode="before")
    @classmethod
    def _stats(cls, v):
        if isinstance(v, str):
            v = tuple(s.strip() for s in v.split(",") if s.strip())
        bad = sorted(set(v) - set(ALL_STATS))
        if bad:
            raise ValueError(f"unknown statistics {bad}; choose from {', '.join(ALL_STATS)}")
        return tuple(v)


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: chat messages plus what a run must record about it."""

    strategy: str
    template: str
    system: str
    user: str
    uses_real_rows: bool
    variables: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """The prompt as a run logs it (``prompt/prompt.json``): what a registered model serves."""
        return json.dumps({"strategy": self.strategy, "template": self.template, "system": self.system,
                           "user": self.user, "uses_real_rows": self.uses_real_rows, "variables": self.variables},
                          indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Prompt":
        d = json.loads(text)
        return cls(d["strategy"], d["template"], d["system"], d["user"], d["uses_real_rows"], d["variables"])

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    @property
    def text(self) -> str:
        return f"[system]\n{self.system}\n\n[user]\n{self.user}\n"


def fill(template: str, variables: dict[str, str]) -> str:
    """Fill ``{{name}}`` placeholders (MLflow Prompt Registry syntax); a missing variable is an error."""
    missing = sorted(set(re.findall(r"\{\{\s*(\w+)\s*\}\}", template)) - set(variables))
    if missing:
        raise ConfigError(f"prompt template needs variables {missing} that were not provided")
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: variables[m.group(1)], template)


def format_value(v: object, decimals: int | None = None) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return NA_TOKEN
    if decimals is not None and isinstance(v, (float, int, np.floating, np.integer)):
        return f"{float(v):.{decimals}f}"
    return str(v)


def format_rows(df: pd.DataFrame, spec: DatasetSpec) -> str:
    """Rows as CSV lines in spec order, numbers with the spec's decimals, missing as NA."""
    dec = {c.name: c.decimals if c.is_numeric else None for c in spec.columns}
    return "\n".join(",".join(format_value(r[c], dec[c]) for c in spec.column_names) for _, r in df.iterrows())


def to_csv(df: pd.DataFrame, spec: DatasetSpec) -> str:
    """A table as CSV text with header, written exactly as prompts and the grammar write rows."""
    body = format_rows(df, spec)
    return ",".join(spec.column_names) + "\n" + (body + "\n" if body else "")


def definitions(spec: DatasetSpec, names: dict[str, str] | None = None) -> str:
    """One line per column; with ``names`` (see :func:`scrambled_names`) only the opaque name, the type, the range
    or categories and whether it may be NA: no description, no unit."""
    lines = []
    for c in spec.columns:
        unit = f" [{c.unit}]" if c.unit and names is None else ""
        if c.is_numeric:
            kind = f"number{unit}, {format_value(c.min, c.decimals)} to {format_value(c.max, c.decimals)}"
        else:
            kind = "one of " + "/".join(c.categories)
        na = ", may be NA" if c.nullable else ""
        lines.append(f"- {c.name}: {c.description} ({kind}{na})" if names is None else f"- {names[c.name]}: {kind}{na}")
    return "\n".join(lines)


def scrambled_names(spec: DatasetSpec) -> dict[str, str]:
    """Column name -> opaque name in spec order (``x01``, ``x02``, ...; three digits from 100 columns on)."""
    width = max(2, len(str(len(spec.columns))))
    return {c.name: f"x{i:0{width}d}" for i, c in enumerate(spec.columns, start=1)}


def _word(text: str) -> str:
    # a name or unit standing on its own (not inside a longer identifier such as radius_mean_x)
    return rf"(?<![\w^/]){re.escape(text)}(?![\w^/])"


def scramble_text(text: str, spec: DatasetSpec, names: dict[str, str]) -> str:
    """Released statistics or rules text with every column name replaced by its opaque name and every unit
    dropped (the numbers stay); longer names first, so ``radius_mean`` is never read as part of another."""
    for c in spec.columns:
        if c.unit:
            text = re.sub(r" " + re.escape(c.unit) + r"(?=[,;)]|$)", "", text, flags=re.MULTILINE)
    pattern = "|".join(_word(n) for n in sorted(names, key=len, reverse=True))
    return re.sub(pattern, lambda m: names[m.group(0)], text) if names else text


def leaked_names(text: str, spec: DatasetSpec) -> list[str]:
    """The spec's column names and units that appear in ``text`` as words of their own."""
    words = {c.name for c in spec.columns} | {c.unit for c in spec.columns if c.unit}
    return sorted(w for w in words if re.search(_word(w), text))


class PromptStrategy(ABC):
    """A prompt strategy: ``render`` validates, fills the shared variables and calls ``_variables``."""

    name: str
    uses_real_rows: bool = False
    uses_statistics: bool = False  # carries statistics of train (charged to the DP budget when one is set)

    def render(self, spec: DatasetSpec, release: Release | None, options: PromptOptions | None = None,
               *, seed: int = 0, train: pd.DataFrame | None = None) -> Prompt:
        """Render this strategy's prompt for ``spec`` from the run's ``release``.

        Statistics come from ``release`` (exact or DP, as released); only ``seed_ex`` reads ``train``
        (its example rows; never the holdout). A strategy that needs what it was not given is an error.
        """
        options = options or PromptOptions()
        template = TEMPLATES[self.name]
        variables = {
            "dataset_description": " ".join(spec.description.split()) or spec.name,
            "header": ",".join(spec.column_names),
            "n_rows": str(options.rows_per_completion),
            **self._variables(spec, release, train, options, np.random.default_rng(seed)),
        }
        if options.scramble_names:
            variables = _scrambled(variables, spec)
        user = fill(template, variables)
        if options.scramble_names and (leaks := leaked_names(user, spec)):
            raise ContractViolation(f"scramble_names: the {self.name} prompt of {spec.name} still shows {leaks}; "
                                    "every column name and unit must be replaced (a bug: report it)")
        return Prompt(self.name, template, SYSTEM, user, self.uses_real_rows, variables)

    @abstractmethod
    def _variables(self, spec: DatasetSpec, release: Release | None, train: pd.DataFrame | None,
                   options: PromptOptions, rng: np.random.Generator) -> dict[str, str]: ...


def _scrambled(variables: dict[str, str], spec: DatasetSpec) -> dict[str, str]:
    """The prompt's variables with the columns' names, descriptions, units and the table's description withheld.

    Rows stay positional CSV in spec order, so parsing, the grammar and evaluation do not change; categories
    keep their labels and ranges their numbers (what a column *is* is withheld, not what it holds).
    """
    names = scrambled_names(spec)
    out = {**variables, "header": ",".join(names.values()),
           "dataset_description": f"a table of {len(spec.columns)} columns; their names and meanings are withheld"}
    if "definitions" in out:
        out["definitions"] = definitions(spec, names)
    for key in ("statistics", "rules"):
        if key in out:
            out[key] = scramble_text(out[key], spec, names)
    return out


class SeedExamples(PromptStrategy):
    """Schema + k real example rows drawn (seeded) from train: the only strategy that shows real data."""

    name, uses_real_rows = "seed_ex", True

    def _variables(self, spec, release, train, options, rng):
        if train is None:
            raise ConfigError("strategy seed_ex shows real example rows: render it with train=<the train split>")
        k = min(options.n_examples, len(train))
        rows = train.iloc[np.sort(rng.choice(len(train), size=k, replace=False))]
        return {"n_examples": str(k), "examples": format_rows(rows, spec)}


class FeatureDescriptions(PromptStrategy):
    """Natural-language definitions, units, plausible ranges and categories; no data."""

    name = "featdesc"

    def _variables(self, spec, release, train, options, rng):
        return {"definitions": definitions(spec)}


class StatisticalGuidance(FeatureDescriptions):
    """Definitions + statistics computed from train (optionally epsilon-DP)."""

    name, uses_statistics = "statguide", True

    def _variables(self, spec, release, train, options, rng):
        if release is not None and release.level == "none":  # the definitions (and rules) carry the prompt alone
            return {**super()._variables(spec, release, train, options, rng), "statistics": NO_STATISTICS,
                    "instruction": INSTRUCTIONS[(self.name, False)]}
        if release is None or release.statistics is None:
            raise ConfigError(f"strategy {self.name} carries statistics, but the release holds none: release them "
                              "with make_release(spec, train, statistics=...)")
        return {**super()._variables(spec, release, train, options, rng), "statistics": release.statistics,
                "instruction": INSTRUCTIONS[(self.name, True)]}


class ClinicalRules(StatisticalGuidance):
    """Definitions + statistics + the spec's clinical rules; no rows."""

    name = "clin_rule"

    def _variables(self, spec, release, train, options, rng):
        rules = spec.rules if options.max_rules is None else spec.rules[: options.max_rules]
        # a rule's note explains it in clinical words: withheld with the names
        text = "\n".join(f"- {r.describe()}" + ("" if options.scramble_names else f" ({r.note})") for r in rules)
        text = text or "- (none)"
        return {**super()._variables(spec, release, train, options, rng), "rules": text}


STRATEGIES: dict[str, PromptStrategy] = {s.name: s for s in (SeedExamples(), FeatureDescriptions(),
                                                              StatisticalGuidance(), ClinicalRules())}


def get_strategy(name: str) -> PromptStrategy:
    """Look a strategy up by its paper name."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise unknown("strategy", name, list(STRATEGIES)) from None
