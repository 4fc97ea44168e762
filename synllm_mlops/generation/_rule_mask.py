"""The rule guide as a logits processor: one masked fill over the batch per decoding step.

Where the field being written carries a constraint (a hard rule, a steering bin), the tokens the grammar
allows but that cannot lead to a satisfying value are dropped (see :class:`RowGuide`). Whether a token
is dropped depends only on the field's constraint, the field's text so far and the token's text up to
its first separator, so for each such *state* a list of dropped token ids is computed once, over the
few tokens that can be written inside that column at all (its *candidates*: text made of the column's
characters up to the first ``,``/newline -- 78 of SmolLM2's 49k tokens for a numeric column). A step
then scatters the states' lists into one (batch, vocabulary) mask and applies it with tensor
operations: no loop over the vocabulary, no per-sequence ``nonzero().tolist()``.

It is exact: a row where the grammar allows a token outside the column's candidates (never seen with
our grammars) falls back to checking that row token by token, as :class:`LoopRuleLogitsProcessor` -- the
original implementation, kept as the reference the tests compare with -- does for every row.
"""

from __future__ import annotations

import math

import numpy as np

from synllm_mlops.generation._rules import FieldConstraint, RowGuide, RowTracker
from synllm_mlops.spec import NA_TOKEN, ColumnSpec

MAX_ALLOWED = 512  # more grammar-allowed tokens than this: not inside a constrained field (e.g. free text)


def _head(text: str) -> tuple[str, bool]:
    """``text`` up to its first separator, and whether one follows (what the rule check reads of a token)."""
    for i, ch in enumerate(text):
        if ch in ",\n":
            return text[:i], True
    return text, False


def _alphabet(col: ColumnSpec) -> frozenset[str]:
    chars = set(NA_TOKEN)
    if col.is_numeric:
        chars |= set("0123456789.-")
    else:
        for c in col.categories or []:
            chars |= set(c)
    return frozenset(chars)


def _allows(c: FieldConstraint, partial: str, head: str, sep: bool) -> bool:
    """:meth:`RowTracker.allows` for a token read as (head, separator follows); ``partial`` holds no separator."""
    return c.allows_value(partial + head) if sep else c.allows_prefix(partial + head)


class _Candidates:
    """The tokens of one column's alphabet, grouped by (head, separator follows)."""

    def __init__(self, heads: list[tuple[str, bool]], alphabet: frozenset[str]):
        index: dict[tuple[str, bool], int] = {}
        ids, key_of = [], []
        for t, key in enumerate(heads):
            if set(key[0]) <= alphabet:
                ids.append(t)
                key_of.append(index.setdefault(key, len(index)))
        self.keys = list(index)
        self.ids = np.asarray(ids, dtype=np.int64)
        self.key_of = np.asarray(key_of, dtype=np.int64)
        self.inside = np.zeros(len(heads), dtype=bool)
        self.inside[self.ids] = True


class TokenTable:
    """Each token's text as the rule check reads it, and per column alphabet its candidate tokens; build once per tokenizer.

    Args:
        texts: the decoded text of every token id, in id order (the width of the logits).
    """

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.heads = [_head(t) for t in texts]
        self._candidates: dict[frozenset[str], _Candidates] = {}
        self._inside: dict[tuple, object] = {}

    def candidates(self, col: ColumnSpec) -> _Candidates:
        alphabet = _alphabet(col)
        if alphabet not in self._candidates:
            self._candidates[alphabet] = _Candidates(self.heads, alphabet)
        return self._candidates[alphabet]

    def inside(self, columns: list[ColumnSpec], device):
        """(columns + 1, vocabulary) bool tensor: row j marks column j's candidates; the last row is all True."""
        import torch

        key = (tuple(_alphabet(c) for c in columns), str(device))
        if key not in self._inside:
            rows = [self.candidates(c).inside for c in columns] + [np.ones(len(self.texts), dtype=bool)]
            self._inside[key] = torch.from_numpy(np.stack(rows)).to(device)
        return self._inside[key]


def _constraint_key(c: FieldConstraint) -> tuple:
    return (c.col.name, c.lo, c.lo_strict, c.hi, c.hi_strict, None if c.allowed is None else frozenset(c.allowed),
            frozenset(c.forbidden), c.forbid_na)


class _TrackingProcessor:
    """Shared state of both implementations: one :class:`RowTracker` per sequence and the batch's steering draws."""

    def __init__(self, guide: RowGuide, token_text, prompt_len: int, batch_size: int, seed: int = 0):
        self.guide, self.token_text, self.prompt_len = guide, token_text, prompt_len
        steer = None
        if guide.steering is not None:  # one seeded draw stream for the batch, in decoding order
            from synllm_mlops.generation._steering import FieldSteer

            steer = FieldSteer(guide.steering, guide.columns, np.random.default_rng(seed))
        self.steer = steer
        self.rows = [RowTracker(steer) for _ in range(batch_size)]

    def _advance(self, input_ids) -> list[FieldConstraint | None]:
        """Feed each sequence its last token; the constraint of the field each one writes (steering draws here, in batch order)."""
        if input_ids.shape[1] > self.prompt_len:
            for row, token in zip(self.rows, input_ids[:, -1].tolist()):
                row.feed(self.token_text(token))
        return [row.constraint(self.guide) for row in self.rows]

    def _mask_row(self, scores, b: int, constraint: FieldConstraint) -> int:
        """Token by token for sequence ``b``; returns the number of tokens dropped."""
        import torch

        allowed = torch.isfinite(scores[b]).nonzero().flatten().tolist()
        if len(allowed) > MAX_ALLOWED:
            return 0
        row = self.rows[b]
        bad = [t for t in allowed if not row.allows(constraint, self.token_text(t))]
        if bad and len(bad) < len(allowed):
            scores[b, bad] = -math.inf
            return len(bad)
        return 0


class LoopRuleLogitsProcessor(_TrackingProcessor):
    """The reference implementation: every sequence, every grammar-allowed token, checked in Python each step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.masked = 0

    def __call__(self, input_ids, scores):
        for b, constraint in enumerate(self._advance(input_ids)):
            if constraint is not None:
                self.masked += self._mask_row(scores, b, constraint)
        return scores


class RuleLogitsProcessor(_TrackingProcessor):
    """Masks the tokens that would break a hard rule between columns or leave a steered bin (see :class:`RowGuide`).

    Follows each sequence's current row as tokens arrive; where the field being written carries a
    constraint, it drops the grammar-allowed tokens that cannot lead to a value satisfying it. It never
    leaves a sequence without a token: at a dead end it drops nothing (the parser rejects the row).

    Args:
        guide: the spec's rules (and steering).
        token_text: token id -> decoded text.
        prompt_len: tokens of the prompt (the first call sees only the prompt).
        batch_size: sequences in the batch.
        seed: seeds the batch's steering draws.
        table: the tokenizer's :class:`TokenTable`; built from ``token_text`` on the first call when omitted.
    """

    def __init__(self, guide: RowGuide, token_text, prompt_len: int, batch_size: int, seed: int = 0,
                 table: TokenTable | None = None):
        super().__init__(guide, token_text, prompt_len, batch_size, seed)
        self.table = table
        self._bad: dict[tuple, np.ndarray] = {}  # (column, constraint, partial) -> dropped token ids
        self._masked = None  # a device tensor: reading it synchronises, so only on demand
        self.fallbacks = 0  # rows checked token by token (a grammar-allowed token outside the column's candidates)

    @property
    def masked(self) -> int:
        """Tokens dropped, over all steps and sequences."""
        return 0 if self._masked is None else int(self._masked)

    def _dropped(self, j: int, c: FieldConstraint, partial: str) -> np.ndarray:
        key = (j, _constraint_key(c), partial)
        ids = self._bad.get(key)
        if ids is None:
            cand = self.table.candidates(self.guide.columns[j])
            ok = np.fromiter((_allows(c, partial, h, s) for h, s in cand.keys), dtype=bool, count=len(cand.keys))
            ids = self._bad[key] = cand.ids[~ok[cand.key_of]]
        return ids

    def __call__(self, input_ids, scores):
        import torch

        cons = self._advance(input_ids)
        live = [b for b, c in enumerate(cons) if c is not None]
        if not live:
            return scores
        if self.table is None:
            self.table = TokenTable([self.token_text(t) for t in range(scores.shape[1])])
        n_cols, dev = len(self.guide.columns), scores.device
        column = [n_cols] * len(cons)  # unconstrained rows read the all-True row of ``inside``
        rows, cols = [], []
        for b in live:
            j = column[b] = len(self.rows[b].fields)
            ids = self._dropped(j, cons[b], self.rows[b].partial)
            rows.append(np.full(len(ids), b, dtype=np.int64))
            cols.append(ids)
        index = torch.from_numpy(np.stack([np.concatenate(rows), np.concatenate(cols)])).to(dev)
        bad = torch.zeros(scores.shape, dtype=torch.bool, device=dev)
        bad[index[0], index[1]] = True
        ok = torch.isfinite(scores)
        is_live = torch.zeros(len(cons), dtype=torch.bool)
        is_live[live] = True
        is_live = is_live.to(dev) & (ok.sum(1) <= MAX_ALLOWED)
        hit = bad & ok
        inside = self.table.inside(self.guide.columns, dev)[torch.tensor(column, device=dev)]
        fallback = is_live & (ok & ~inside).any(1)  # a token whose check was not precomputed: do this row by hand
        apply = is_live & ~fallback & hit.any(1) & (ok & ~bad).any(1)  # something to drop, something left
        drop = hit & apply[:, None]
        scores.masked_fill_(drop, -math.inf)
        n = drop.sum()
        self._masked = n if self._masked is None else self._masked + n
        for b in fallback.nonzero().flatten().tolist():
            self._masked += self._mask_row(scores, b, cons[b])
            self.fallbacks += 1
        return scores
