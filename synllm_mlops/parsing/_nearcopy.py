"""Near copies of real rows: a line that holds a real row's fields, in any decoration, or with one field changed.

Exact-copy detection compares whole parsed rows; it misses a real row written ``1. 1234,C,...``,
``Patient: ...``, quoted, with a trailing comma, with one field out of range, or with one value
changed. :class:`NearCopyIndex` splits a line into tokens, reads every window of ``k`` consecutive
tokens as a row (each token normalised like the parser does for its column) and matches it against
the real rows with one field masked: a window that agrees with a real row on all fields but at most
one is a near copy. Tables with fewer than :data:`MIN_COLUMNS` columns only match exactly (with so few
fields, agreeing on all but one is common between unrelated people).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from synllm_mlops.spec import MISSING_TEXTS, NA_TOKEN, DatasetSpec, normalise_category

MIN_COLUMNS = 6
_SPLIT = re.compile(r"[,;\t|]")
_MASK = "\x00"


class NearCopyIndex:
    """Real rows (canonical keys) indexed by every one-field-masked variant.

    Example:
        >>> from synllm_mlops.spec import load_spec
        >>> spec = load_spec("breast_cancer")
        >>> real = ("M",) + tuple(f"{i}.0000" for i in range(1, 31))
        >>> idx = NearCopyIndex([real], spec)
        >>> idx.in_line("Patient 7: " + ",".join(real) + ",")
        True
    """

    def __init__(self, real_keys: Iterable[tuple[str, ...]], spec: DatasetSpec):
        self.spec, self.k = spec, len(spec.columns)
        self.exact: set[tuple[str, ...]] = set()
        self.masked: set[tuple[str, ...]] = set()
        for key in real_keys:
            self.exact.add(key)
            if self.k >= MIN_COLUMNS:
                self.masked.update(key[:i] + (_MASK,) + key[i + 1:] for i in range(self.k))

    def __len__(self) -> int:
        return len(self.exact)

    def near(self, key: tuple[str, ...]) -> bool:
        """Whether a row key equals a real row, or differs from one in a single field."""
        if key in self.exact:
            return True
        return bool(self.masked) and any(key[:i] + (_MASK,) + key[i + 1:] in self.masked for i in range(self.k))

    def _token(self, raw: str, j: int) -> str:
        v = raw.strip().strip("\"'").strip()
        col = self.spec.columns[j]
        if v in MISSING_TEXTS:
            return NA_TOKEN
        if col.is_numeric:
            try:
                return f"{float(v):.{col.decimals}f}"
            except ValueError:
                return v
        return str(normalise_category(v))

    def in_line(self, line: str) -> bool:
        """Whether any window of ``k`` consecutive tokens of ``line`` is a near copy of a real row."""
        tokens = _SPLIT.split(line)
        # a decoration glued to the first field ("1. 1234") or a missing field: also try the line's last k tokens
        for start in range(0, max(len(tokens) - self.k, 0) + 1):
            window = tokens[start:start + self.k]
            if len(window) < self.k:
                window = window + [""] * (self.k - len(window))
            if self.near(tuple(self._token(t, j) for j, t in enumerate(window))):
                return True
        return False
