"""Completion text -> typed rows plus rejects, each with a reason; the privacy guard."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synllm_mlops.parsing._nearcopy import NearCopyIndex
from synllm_mlops.errors import show
from synllm_mlops.spec import MISSING_TEXTS, DatasetSpec, as_category, row_key

REJECT_COLUMNS = ["reason", "detail", "line"]
_NOISE_PREFIXES = ("```", "#", "Here", "here", "Sure", "Note", "CSV")


@dataclass
class ParseResult:
    """Valid typed rows, and rejected lines each with a reason."""

    rows: pd.DataFrame
    rejects: pd.DataFrame
    copy_rejects: int = 0
    near_copy_rejects: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class RowParser:
    """Parses completions against ``spec`` and guards against copies of real rows.

    Args:
        spec: the dataset spec.
        real_keys: mapping from canonical row key to the split it comes from (``train``/``holdout``);
            a generated row equal to one of them is rejected as a copy and counted.
        near_copies: a near-copy check with ``near(row key) -> bool``: a valid row that holds all but at
            most two of a real row's values (any order, normalised; see :class:`NearCopyIndex`) is rejected
            as a near copy. The pipeline passes a :class:`NearCopyIndex` of the real rows, whose
            ``flag_lines`` also finds real rows in rejected lines, in any form (alone or read with their
            neighbours): such a line is stored as ``<redacted>``. A served model passes its keyed digests.
    """

    def __init__(self, spec: DatasetSpec, real_keys: dict[tuple[str, ...], str] | None = None,
                 near_copies: NearCopyIndex | Any | None = None):
        self.spec = spec
        self.real_keys = real_keys or {}
        self.near_copies = near_copies
        self.hard_rules = [r for r in spec.rules if r.hard]

    def _candidate_lines(self, text: str) -> list[str]:
        header = ",".join(self.spec.column_names)
        lines = []
        for line in text.splitlines():
            s = line.strip()
            if not s or s.replace(" ", "") == header:
                continue
            lines.append(s)
        return lines

    def _typed(self, fields: list[str]) -> tuple[list[object] | None, str, str]:
        values: list[object] = []
        for raw, col in zip(fields, self.spec.columns):
            v = raw.strip().strip('"')
            if v in MISSING_TEXTS:
                if not col.nullable:
                    return None, "missing value", f"{col.name} is empty/NA but not nullable"
                values.append(np.nan)
                continue
            if col.is_numeric:
                try:
                    x = float(v)
                except ValueError:
                    return None, "non-numeric", f"{col.name}={show(v)}"
                if not np.isfinite(x) or x < col.min or x > col.max:
                    return None, "out of range", f"{col.name}={v} outside [{show(col.min)}, {show(col.max)}]"
                values.append(round(x, col.decimals))
            else:
                cat = as_category(v, col.categories)  # as the real data loads: 4.0 is category 4
                if cat not in col.categories:
                    return None, "unknown category", f"{col.name}={show(v)} not in {show(col.categories)}"
                values.append(cat)
        return values, "", ""

    def parse(self, texts: list[str]) -> ParseResult:
        """Parse many completions; every line is either a valid row or a reject with a reason."""
        n_cols = len(self.spec.columns)
        good: list[list[object]] = []
        rejects: list[tuple[str, str, str]] = []
        copies = near = 0
        seen: list[tuple[int, int, str]] = []  # (text, line, line text) of each valid row
        texts_lines = [self._candidate_lines(text) for text in texts]
        flags: dict[int, set[int]] = {}
        flag_lines = getattr(self.near_copies, "flag_lines", None)

        def reject(reason: str, detail: str, ti: int, li: int, line: str) -> tuple[str, str, str]:
            """The reject, its line redacted when it is (part of) a near copy of a real row."""
            if flag_lines is not None:
                if ti not in flags:  # read once per completion, and only when it has a reject
                    flags[ti] = flag_lines(texts_lines[ti])
                if li in flags[ti]:
                    return reason, detail.split("=")[0] + " (line held a real row's values: redacted)", "<redacted>"
            return reason, detail, line

        for ti, lines in enumerate(texts_lines):
            for li, line in enumerate(lines):
                fields = next(csv.reader(io.StringIO(line), skipinitialspace=True), [])
                if len(fields) != n_cols:
                    reason = "not a row" if len(fields) <= 1 or line.startswith(_NOISE_PREFIXES) else "field count"
                    rejects.append(reject(reason, f"{len(fields)} fields, expected {n_cols}", ti, li, line))
                    continue
                values, reason, detail = self._typed(fields)
                if values is None:
                    rejects.append(reject(reason, detail, ti, li, line))
                    continue
                key = row_key(values, self.spec)
                split = self.real_keys.get(key)
                if split is not None:
                    copies += 1
                    # the copied real row is never stored: only the reason
                    rejects.append((f"copy of a real {split} row", "identical after type normalisation", "<redacted>"))
                    continue
                if self.near_copies is not None and self.near_copies.near(key):
                    near += 1
                    rejects.append(("near copy of a real row", "all but at most two of a real row's values, in any "
                                    "order", "<redacted>"))
                    continue
                good.append(values)
                seen.append((ti, li, line))
        rows = pd.DataFrame(good, columns=self.spec.column_names)
        for c in self.spec.columns:
            rows[c.name] = rows[c.name].astype(float) if c.is_numeric else rows[c.name].astype(object)
        if self.hard_rules and len(rows):
            broken = pd.Series("", index=rows.index)
            for r in self.hard_rules:
                broken = broken.where(~(r.violations(rows) & (broken == "")), r.id)
            bad = broken != ""
            for i in np.flatnonzero(bad.to_numpy()):
                rejects.append(reject("hard-rule violation", f"breaks rule {broken.iloc[i]}", *seen[i]))
            rows = rows[~bad.to_numpy()].reset_index(drop=True)
        rej = pd.DataFrame(rejects, columns=REJECT_COLUMNS)
        return ParseResult(rows, rej, copies, near, rej["reason"].value_counts().to_dict())
