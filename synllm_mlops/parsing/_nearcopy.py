"""Near copies of real rows, in any form: a text holding all but at most two of a real row's values.

A model that echoes a real row may write it as CSV, a JSON object, ``key: value`` pairs, space- or
``;``-separated, columns reversed, a field dropped or repeated, units attached, categories in lower case,
``null``/``None`` for a missing value, decimal commas, numbered, in markdown, or split over two lines.
None of that changes the row's *values*, so a row is compared as a bag of normalised values, order-free:

* both sides are read the same, column-agnostic way (a value moved to another column still matches):
  lower case; numbers read with a decimal point or a decimal comma, units attached or not, and written
  canonically (``1.40`` = ``1,4`` = ``1.4mg/dl``); ``NA``/``null``/``None``/``NaN``/``n/a``/an empty
  field are one missing token; multi-word categories are one token;
* everything else in a text (keys, numbering, quotes, markdown, JSON punctuation) is extra tokens,
  which cannot hide the values; a row split over lines is caught by reading consecutive lines together.

A text is a near copy of a real row when it holds all but at most :func:`max_diff` of the row's ``k``
values (as multisets). The index files every real row under each *pair* of its ``d + 2`` rarest values:
a text that misses at most ``d`` of a row's values holds two of them (pigeonhole), so a text looks up
the pairs of its own values (171 for a 19-value row), and only the few rows filed under a pair of rare
values are counted: the work per text does not grow with the size of the real table.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np

from synllm_mlops.spec import MISSING_TEXTS, DatasetSpec

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"({_NUM})|([^\W\d][\w\-/]*)")
_EMPTY_FIELD = re.compile(r"(?:^|(?<=[,;\t|]))[ \t]*(?=[,;\t|]|$)")
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
# the spec's missing-value spellings, as this matcher's lower-case words (empty and "?" are not words), plus the
# words a model writes in prose for a missing value
_NA_WORDS = frozenset(t.lower() for t in MISSING_TEXTS if t.strip("?")) | {"nil", "missing"}
NA = "na"


def max_diff(k: int) -> int:
    """How many of a ``k``-column row's values a near copy may differ in: 2 from 8 columns, 1 from 6, else 0.

    With fewer columns, agreeing on all but one or two values is common between unrelated people; at
    least six (five) values must still agree.
    """
    return 2 if k >= 8 else 1 if k >= 6 else 0


def _number(text: str) -> str:
    x = float(text)
    return repr(round(x, 6) + 0.0) if np.isfinite(x) else text


def tokens(text: str, *, decimal_comma: bool = False, empty_is_na: bool = True) -> list[str]:
    """The normalised values in ``text`` (see the module docstring), in order."""
    text = text.lower()
    if decimal_comma:
        text = _DECIMAL_COMMA.sub(".", text)
    if empty_is_na:
        text = _EMPTY_FIELD.sub(" na ", text)
    out = []
    for num, word in _TOKEN.findall(text):
        if num:
            out.append(_number(num))
        else:
            out.append(NA if word in _NA_WORDS else word)
    return out


def cell_token(cell: str) -> str:
    """One cell of a row key as one normalised token (a multi-word category is joined with ``_``)."""
    toks = tokens(cell, empty_is_na=False)
    if not toks:
        return NA if not cell.strip() else cell.strip().lower()
    return toks[0] if len(toks) == 1 else "_".join(toks)


def masked_keys(key: tuple[str, ...]) -> set[tuple[str, ...]]:
    """A row key's sorted normalised values with every choice of :func:`max_diff` values left out.

    Two rows share one of these iff they agree on all but at most ``max_diff(k)`` values, in any order:
    the served model's guard stores keyed digests of them (it holds no real rows to index).
    """
    values = sorted(cell_token(c) for c in key)
    d = max_diff(len(values))
    return {tuple(v for i, v in enumerate(values) if i not in drop)
            for drop in itertools.combinations(range(len(values)), d)}


@functools.lru_cache(maxsize=256)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


class NearCopyIndex:
    """Real rows (canonical keys) indexed for order-free near-copy matching of rows and free text.

    Example:
        >>> from synllm_mlops.spec import load_spec
        >>> spec = load_spec("breast_cancer")
        >>> real = ("M",) + tuple(f"{i}.0000" for i in range(1, 31))
        >>> idx = NearCopyIndex([real], spec)
        >>> idx.in_line("Patient 7: " + "; ".join(reversed(real[2:])).replace(".", ","))  # reversed, 2 dropped
        True
    """

    def __init__(self, real_keys: Iterable[tuple[str, ...]], spec: DatasetSpec):
        self.spec, self.k = spec, len(spec.columns)
        self.d = max_diff(self.k)
        self._cache: dict[str, str] = {}
        self._vocab: dict[str, int] = {}
        ids = [sorted(self._vocab.setdefault(self._cell(c), len(self._vocab)) for c in key) for key in real_keys]
        self._words = list(self._vocab)  # value id -> value
        ids = np.array(ids, dtype=np.int64).reshape(len(ids), self.k)
        occ = np.zeros_like(ids)  # a value's 0-based repeat count within its row: rows are multisets
        for j in range(1, self.k):
            occ[:, j] = np.where(ids[:, j] == ids[:, j - 1], occ[:, j - 1] + 1, 0)
        self.codes = ids * self.k + occ
        # a near copy holds >= t of a row's d + t rarest values; t = 2 (pairs) unless the rows are too short
        self._t = 2 if self.k >= self.d + 2 else 1
        self._base = np.int64(len(self._vocab) * self.k + 1)
        self._keys, self._rows = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if len(ids):
            _, inverse, counts = np.unique(self.codes, return_inverse=True, return_counts=True)
            freq = counts[inverse.reshape(self.codes.shape)]
            rarest = np.argsort(freq, axis=1, kind="stable")[:, : self.d + self._t]
            filed = np.sort(np.take_along_axis(self.codes, rarest, axis=1), axis=1)
            keys = [self._combine(filed[:, list(c)]) for c in itertools.combinations(range(filed.shape[1]), self._t)]
            keys = np.concatenate(keys)
            rows = np.tile(np.arange(len(ids)), len(keys) // len(ids))
            order = np.argsort(keys, kind="stable")
            self._keys, self._rows = keys[order], rows[order]
        multi = sorted((v for v in self._vocab if "_" in v and all(p for p in v.split("_"))), key=len, reverse=True)
        self._joins = [(re.compile(r"\b" + r"[\s_]+".join(map(re.escape, v.split("_"))) + r"\b", re.I), v)
                       for v in multi]

    def __len__(self) -> int:
        return len(self.codes)

    def _combine(self, sub: np.ndarray) -> np.ndarray:
        """One integer key per row of ``sub`` (ascending codes, ``t`` columns)."""
        return sub[:, 0] if sub.shape[1] == 1 else sub[:, 0] * self._base + sub[:, 1]

    def _cell(self, cell: str) -> str:
        t = self._cache.get(cell)
        if t is None:
            t = self._cache[cell] = cell_token(cell)
        return t

    def _near_tokens(self, toks: list[str]) -> bool:
        return self._match(toks) is not None

    def _match(self, toks: list[str]) -> np.ndarray | None:
        """The value ids of a real row that ``toks`` is a near copy of, or None."""
        counts = Counter(i for i in map(self._vocab.get, toks) if i is not None)
        if sum(min(c, self.k) for c in counts.values()) < self.k - self.d:
            return None
        query = np.sort(np.fromiter((i * self.k + o for i, c in counts.items() for o in range(min(c, self.k))),
                                    np.int64))
        if self._t == 2:
            a, b = _pairs(len(query))
            keys = self._combine(np.stack([query[a], query[b]], axis=1))
        else:
            keys = query
        lo, hi = np.searchsorted(self._keys, keys, "left"), np.searchsorted(self._keys, keys, "right")
        found = hi > lo
        if not found.any():
            return None
        cand = np.unique(np.concatenate([self._rows[x:y] for x, y in zip(lo[found], hi[found])]))
        near = cand[np.isin(self.codes[cand], query).sum(axis=1) >= self.k - self.d]
        return self.codes[near[0]] // self.k if len(near) else None

    def near(self, key: tuple[str, ...]) -> bool:
        """Whether a row key holds all but at most ``max_diff(k)`` of a real row's values, in any order."""
        return self._near_tokens([self._cell(c) for c in key])

    def _line_tokens(self, line: str) -> tuple[list[str], list[str] | None]:
        for pattern, joined in self._joins:
            line = pattern.sub(joined, line)
        return tokens(line), (tokens(line, decimal_comma=True) if _DECIMAL_COMMA.search(line) else None)

    def in_line(self, line: str) -> bool:
        """Whether the text of one line is a near copy of a real row."""
        return 0 in self.flag_lines([line])

    def flag_lines(self, lines: list[str]) -> set[int]:
        """Indices of the lines that are, alone or read with their neighbours, a near copy of a real row.

        From each line on, consecutive lines are read together until they hold enough known values to be
        a near copy (one line for a row on one line, two for a row split in two, a block for one field a
        line), and once more with the next line; the lines of a matching window that hold one of the
        matched row's values are flagged (not a line of prose before it).
        """
        if not len(self):
            return set()
        toks = [self._line_tokens(line) for line in lines]
        known = [sum(t in self._vocab for t in a) for a, _ in toks]
        need, flagged = self.k - self.d, set()
        for i in range(len(lines)):
            j, have = i, known[i]
            while have < need and j + 1 < len(lines) and j - i < 2 * self.k:
                j += 1
                have += known[j]
            for end in (j, j + 1) if j + 1 < len(lines) else (j,):
                window = toks[i:end + 1]
                plain = [t for a, _ in window for t in a]
                comma = [t for a, b in window for t in (b if b is not None else a)]
                row = self._match(plain)
                if row is None and comma != plain:
                    row = self._match(comma)
                if row is not None:
                    values = {self._words[v] for v in row.tolist()}
                    flagged.update(x for x in range(i, end + 1)
                                   if not values.isdisjoint(toks[x][0]) or not values.isdisjoint(toks[x][1] or ()))
                    break
        return flagged
