"""The rule guide as a logits processor: one pass over the batch per decoding step, one device sync.

Where the field being written carries a constraint (a hard rule, a steering bin), the tokens the grammar
allows but that cannot lead to a satisfying value are dropped (see :class:`RowGuide`). Whether a token is
dropped depends only on the field's constraint, the field's text so far and the token, so each verdict is
computed once per *state* (constraint, text so far) and kept on the guide: sequences that reach the same
state (the first digits of a number, a category's first letters), in this batch or a later one of the run,
reuse it. A step reads every grammar-allowed token
of the constrained rows with one ``nonzero`` over the batch (the step's one device synchronisation), looks
their verdicts up, and drops the refused ones with one indexed fill -- no loop over the vocabulary, no
per-sequence ``nonzero().tolist()``.

It is exact by construction: the verdict of a token is what :meth:`RowTracker.allows` says, as in
:class:`LoopRuleLogitsProcessor` -- the original implementation, kept as the reference the tests compare
with (lock-step scores, and the same sampled tokens on the real model under one seed).
"""

from __future__ import annotations

import math

import numpy as np

from synllm_mlops.constraints._guide import FieldConstraint, RowGuide, RowTracker
from synllm_mlops.constraints._steering import FieldSteer

MAX_ALLOWED = 512  # more grammar-allowed tokens than this: not inside a constrained field (e.g. free text)
MAX_STATES = 200_000  # verdict cache entries kept on a guide between batches (~20 verdicts each)


def _constraint_key(c: FieldConstraint) -> tuple:
    return (c.col.name, c.lo, c.lo_strict, c.hi, c.hi_strict, None if c.allowed is None else frozenset(c.allowed),
            frozenset(c.forbidden), c.forbid_na)


def _caches(guide: RowGuide, token_text) -> tuple[dict, dict]:
    """The verdict caches ``guide`` keeps for this tokenizer between batches (emptied past MAX_STATES)."""
    owner = getattr(token_text, "__self__", token_text)  # the backend (or the table) behind a bound method
    for held, verdicts, drops in guide.caches:
        if held is owner:
            if len(verdicts) > MAX_STATES:
                verdicts.clear()
                drops.clear()
            return verdicts, drops
    guide.caches.append((owner, {}, {}))
    return guide.caches[-1][1:]


class _TrackingProcessor:
    """Shared state of both implementations: one :class:`RowTracker` per sequence and the batch's steering draws."""

    def __init__(self, guide: RowGuide, token_text, prompt_len: int, batch_size: int, seed: int = 0):
        self.guide, self.token_text, self.prompt_len = guide, token_text, prompt_len
        steer = None
        if guide.steering is not None:  # one seeded draw stream for the batch, in decoding order
            steer = FieldSteer(guide.steering, guide.columns, np.random.default_rng(seed))
        self.steer = steer
        self.rows = [RowTracker(steer) for _ in range(batch_size)]

    def _advance(self, input_ids) -> list[FieldConstraint | None]:
        """Feed each sequence its last token; the constraint of the field each one writes (steering draws here, in batch order)."""
        if input_ids.shape[1] > self.prompt_len:
            for row, token in zip(self.rows, input_ids[:, -1].tolist()):
                row.feed(self.token_text(token))
        return [row.constraint(self.guide) for row in self.rows]


class LoopRuleLogitsProcessor(_TrackingProcessor):
    """The reference implementation: every sequence, every grammar-allowed token, checked in Python each step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.masked = 0

    def _mask_row(self, scores, b: int, constraint: FieldConstraint) -> int:
        """Token by token for sequence ``b``; returns the number of tokens dropped."""
        allowed = (scores[b] > -math.inf).nonzero().flatten().tolist()
        if len(allowed) > MAX_ALLOWED:
            return 0
        row = self.rows[b]
        bad = [t for t in allowed if not row.allows(constraint, self.token_text(t))]
        if bad and len(bad) < len(allowed):
            scores[b, bad] = -math.inf
            return len(bad)
        return 0

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
    """

    def __init__(self, guide: RowGuide, token_text, prompt_len: int, batch_size: int, seed: int = 0):
        super().__init__(guide, token_text, prompt_len, batch_size, seed)
        # state (constraint, text so far) -> token id -> kept; (state, grammar-allowed ids) -> the ids to drop
        self._verdicts, self._drops = _caches(guide, token_text)
        self._keys: list[tuple[FieldConstraint | None, tuple]] = [(None, ())] * batch_size  # per row, per field
        self.masked = 0  # tokens dropped, over all steps and sequences
        self.states = 0  # states whose verdicts this processor started computing (the shared cache's misses)

    def _state(self, b: int, c: FieldConstraint) -> tuple:
        held, key = self._keys[b]
        if held is not c:  # a new field for this row: its constraint's key, once
            key = _constraint_key(c)
            self._keys[b] = (c, key)
        return key, self.rows[b].partial

    def _drop(self, b: int, c: FieldConstraint, state: tuple, allowed: np.ndarray) -> np.ndarray:
        """The ids among ``allowed`` that sequence ``b`` (under ``c``, in ``state``) must not write; none at a dead end."""
        verdicts = self._verdicts.get(state)
        if verdicts is None:
            verdicts = self._verdicts[state] = {}
            self.states += 1
        row = self.rows[b]
        ids = allowed.tolist()
        bad = []
        for t in ids:
            kept = verdicts.get(t)
            if kept is None:
                kept = verdicts[t] = row.allows(c, self.token_text(t))
            if not kept:
                bad.append(t)
        return np.asarray(bad if len(bad) < len(ids) else [], dtype=np.int64)  # something must be left

    def __call__(self, input_ids, scores):
        import torch

        cons = self._advance(input_ids)
        live = [b for b, c in enumerate(cons) if c is not None]
        if not live:
            return scores
        dev = scores.device
        ok = (scores if len(live) == len(cons) else scores[torch.tensor(live, device=dev)]) > -math.inf
        pairs = ok.nonzero().cpu().numpy()  # (live row, token) of every allowed token: the step's one sync
        bounds = np.searchsorted(pairs[:, 0], np.arange(len(live) + 1)).tolist()
        rows, cols = [], []
        for i, b in enumerate(live):
            if not 0 < bounds[i + 1] - bounds[i] <= MAX_ALLOWED:  # past MAX_ALLOWED: not inside a constrained field
                continue
            allowed = pairs[bounds[i]:bounds[i + 1], 1]
            state = self._state(b, cons[b])
            key = (state, allowed.tobytes())  # the same state under the same grammar mask: the same drops
            bad = self._drops.get(key)
            if bad is None:
                bad = self._drops[key] = self._drop(b, cons[b], state, allowed)
            if len(bad):
                rows.append(np.full(len(bad), b, dtype=np.int64))
                cols.append(bad)
        if rows:
            index = torch.from_numpy(np.stack([np.concatenate(rows), np.concatenate(cols)])).to(dev)
            scores[index[0], index[1]] = -math.inf
            self.masked += index.shape[1]
        return scores
