"""The rule guide: hard rules between columns enforced while a row is written."""

import math
import random
import re

import pytest
import torch

from synllm_mlops.constraints import (FieldConstraint, LoopRuleLogitsProcessor, RowGuide, RowTracker, RuleLogitsProcessor,
                                     row_regex)
from synllm_mlops.spec import ColumnSpec, DatasetSpec, load_spec


def _spec(rules, **cols) -> DatasetSpec:
    columns = [{"name": "y", "type": "categorical", "categories": ["0", "1"]}]
    columns += [{"name": "a", "type": "numeric", "min": 0, "max": 50, "decimals": 1},
                {"name": "g", "type": "categorical", "categories": ["low", "lower", "high"], "nullable": True},
                {"name": "b", "type": "numeric", "min": 0, "max": 50, "decimals": 1}]
    return DatasetSpec.model_validate({"name": "t", "target": "y", "columns": columns, "rules": rules, **cols})


def _values(col: ColumnSpec) -> list[str]:
    """Every value the grammar allows for ``col`` (small ranges only)."""
    if not col.is_numeric:
        return list(col.categories) + (["NA"] if col.nullable else [])
    scale = 10 ** col.decimals
    return [f"{i / scale:.{col.decimals}f}" for i in range(int(col.min * scale), int(col.max * scale) + 1)]


def _walk(constraint: FieldConstraint, values: list[str], rng: random.Random) -> str:
    """Write one field character by character, as a decoder with one-character tokens would.

    At every step: the grammar's candidates are the characters that extend the prefix towards some
    value (or the comma ending a complete one); the guide keeps exactly the candidates from which a
    value satisfying the constraint is still reachable.
    """
    tracker = RowTracker()
    while True:
        p = tracker.partial
        cands = sorted({v[len(p)] for v in values if v.startswith(p) and len(v) > len(p)} | ({","} if p in values else set()))
        kept = [c for c in cands if tracker.allows(constraint, c)]
        for c in cands:
            reachable = [p] if c == "," else [v for v in values if v.startswith(p + c)]
            assert (c in kept) == any(constraint.allows_value(v) for v in reachable), (p, c)
        assert kept, p
        c = rng.choice(kept)
        if c == ",":
            return p
        tracker.feed(c)


@pytest.mark.parametrize("op", ["<=", "<", ">=", ">"])
def test_ordering_walk_always_ends_on_a_satisfying_value(op):
    spec = _spec([{"id": "r", "kind": "ordering", "note": "n", "hard": True, "left": "a", "op": op, "right": "b"}])
    guide = RowGuide.for_spec(spec)
    values = _values(spec.columns[3])
    rng = random.Random(0)
    for bound in ["0.5", "7.3", "12.0", "33.3", "49.9", "9.9", "10.0"]:
        c = guide.constraint(["1", bound, "NA"])
        for _ in range(30):
            v = _walk(c, values, rng)
            a, b = float(bound), float(v)
            assert {"<=": a <= b, "<": a < b, ">=": a >= b, ">": a > b}[op], (bound, op, v)


def test_ordering_written_the_other_way_round_bounds_the_later_field():
    # right column first in the table: the later (left) field gets the mirrored bound
    spec = _spec([{"id": "r", "kind": "ordering", "note": "n", "hard": True, "left": "b", "op": "<=", "right": "a"}])
    c = RowGuide.for_spec(spec).constraint(["0", "20.0", "low"])
    assert c.allows_value("20.0") and not c.allows_value("20.1")
    assert c.allows_prefix("2") and not c.allows_prefix("21") and not c.allows_prefix("20.5")


def test_implication_enforces_the_consequence_and_its_contrapositive():
    forward = _spec([{"id": "r", "kind": "implication", "note": "n", "hard": True,
                      "if": {"column": "a", "op": ">", "value": 30}, "then": {"column": "g", "op": "in", "value": ["high"]}}])
    guide = RowGuide.for_spec(forward)
    c = guide.constraint(["1", "31.0"])
    assert c.allows_value("high") and c.allows_value("NA") and not c.allows_value("low")
    assert not c.allows_prefix("l") and c.allows_prefix("h") and c.allows_prefix("N")
    assert guide.constraint(["1", "29.0"]) is None  # condition false: no constraint
    # the consequence column is written first: if it is false, the condition must not hold
    backward = _spec([{"id": "r", "kind": "implication", "note": "n", "hard": True,
                       "if": {"column": "b", "op": ">=", "value": 40}, "then": {"column": "y", "op": "==", "value": "1"}}])
    guide = RowGuide.for_spec(backward)
    c = guide.constraint(["0", "1.0", "low"])
    assert c.allows_value("39.9") and not c.allows_value("40.0") and not c.allows_prefix("45")
    assert guide.constraint(["1", "1.0", "low"]) is None


def test_soft_and_single_column_rules_need_no_guide():
    soft = _spec([{"id": "r", "kind": "ordering", "note": "n", "left": "a", "op": "<=", "right": "b"}])
    assert RowGuide.for_spec(soft) is None
    assert RowGuide.for_spec(load_spec("cirrhosis")) is None  # its hard rules are ranges: in the grammar
    guide = RowGuide.for_spec(load_spec("breast_cancer"))
    assert len(guide.fields) == 5  # the five hard "mean <= worst" rules


def test_the_guide_reads_a_rule_value_as_the_spec_does():
    """``value: [4.0]`` on a categorical column means the category "4" for the spec checks, the parser and the guide."""
    spec = DatasetSpec.model_validate({"name": "t", "target": "y", "columns": [
        {"name": "y", "type": "categorical", "categories": ["0", "1"]},
        {"name": "s", "type": "categorical", "categories": ["3", "4"]}], "rules": [
        {"id": "r", "kind": "implication", "note": "n", "hard": True,
         "if": {"column": "y", "op": "==", "value": "1"}, "then": {"column": "s", "op": "in", "value": [4.0]}}]})
    c = RowGuide.for_spec(spec).constraint(["1"])
    assert c.allowed == {"4"} and c.allows_value("4") and not c.allows_value("3")


def test_missing_earlier_value_sets_no_bound():
    spec = _spec([{"id": "r", "kind": "implication", "note": "n", "hard": True,
                   "if": {"column": "g", "op": "==", "value": "high"}, "then": {"column": "b", "op": ">", "value": 10}}])
    guide = RowGuide.for_spec(spec)
    assert guide.constraint(["1", "3.0", "NA"]) is None
    c = guide.constraint(["1", "3.0", "high"])
    assert not c.allows_value("10.0") and c.allows_value("10.1")


def test_tracker_follows_rows_and_fields():
    t = RowTracker()
    t.feed("1,2.5,lo")
    assert t.fields == ["1", "2.5"] and t.partial == "lo"
    t.feed("w,3.0\n0,")
    assert t.fields == ["0"] and t.partial == ""


def test_hard_range_and_allowed_rules_narrow_the_grammar():
    spec = _spec([{"id": "r", "kind": "range", "note": "n", "hard": True, "column": "a", "min": 2, "max": 4.5},
                  {"id": "s", "kind": "allowed", "note": "n", "hard": True, "column": "g", "values": ["low", "high"]}])
    rx = re.compile(row_regex(spec) + r"\Z")
    assert rx.match("1,2.0,low,3.0") and rx.match("1,4.5,NA,3.0")
    assert not rx.match("1,1.9,low,3.0") and not rx.match("1,4.6,low,3.0") and not rx.match("1,3.0,lower,3.0")


def test_rule_processor_masks_only_tokens_that_break_the_rule():
    spec = _spec([{"id": "r", "kind": "ordering", "note": "n", "hard": True, "left": "a", "op": "<=", "right": "b"}])
    vocab = ["<pad>"] + list("0123456789.,\n") + ["low", "NA", "12", "1,"]
    text = {i: t for i, t in enumerate(vocab)}
    proc = RuleLogitsProcessor(RowGuide.for_spec(spec), text.__getitem__, prompt_len=2, batch_size=2)
    written = ["1", ",", "1", "5", ".", "0", ",", "NA", ","]
    ids = [[0, 0]]
    scores = torch.zeros(2, len(vocab))
    for step, ch in enumerate(written):  # sequence 0 writes the row up to field b; sequence 1 stays in field y
        ids[0].append(vocab.index(ch))
        proc(torch.tensor([ids[0], ids[0][:2] + [vocab.index("1")] * (step + 1)]), scores.clone())
    ids[0].append(vocab.index("1"))  # field b so far: "1"
    out = proc(torch.tensor([ids[0], ids[0][:2] + [vocab.index("1")] * (len(written) + 1)]), scores.clone())
    allowed0 = {vocab[i] for i in range(len(vocab)) if math.isfinite(out[0, i])}
    assert "5" in allowed0 and "9" in allowed0 and "." not in allowed0 and "1," not in allowed0  # 1. / 1 < 15
    assert "4" not in allowed0 and "12" not in allowed0  # 14.x < 15.0; 112 > 50; 5-9 reach 15.0-19.9
    assert torch.isfinite(out[1]).all()  # sequence 1 is not in a constrained field
    assert proc.masked > 0


def test_rule_processor_leaves_a_dead_end_to_the_parser():
    spec = _spec([{"id": "r", "kind": "ordering", "note": "n", "hard": True, "left": "a", "op": ">", "right": "b"}])
    c = RowGuide.for_spec(spec).constraint(["1", "0.0", "low"])  # b < 0.0: impossible in [0, 50]
    assert c is not None and not any(c.allows_value(v) for v in _values(spec.columns[3]))
    vocab = ["<pad>"] + list("0123456789.,\n")
    proc = RuleLogitsProcessor(RowGuide.for_spec(spec), dict(enumerate(vocab)).__getitem__, prompt_len=10, batch_size=1)
    proc.rows[0].feed("1,0.0,low,")  # field b next, with no satisfiable value
    grammar = torch.full((1, len(vocab)), -math.inf)
    grammar[0, 1:11] = 0.0  # the grammar allows the digits only, none of which can satisfy the rule
    out = proc(torch.zeros(1, 10, dtype=torch.long), grammar.clone())
    assert torch.equal(out, grammar) and proc.masked == 0  # nothing dropped: the parser rejects the row


def _lockstep(guide, vocab: list[str], steps: int, batch: int, seed: int) -> tuple[int, int, int]:
    """Decode ``steps`` tokens with the vectorised and the reference processor side by side.

    The "grammar" allows the tokens that keep the text a prefix of CSV rows of the spec, less a random
    third of them, plus now and then a token outside every column's characters; a sequence that wrote such a token gets a random half of the vocabulary
    until its next newline. Both processors must leave the same scores at every step, so sampling from them gives
    the same tokens.
    """
    import regex

    row = row_regex(guide.spec)
    rx = regex.compile(f"{row}(\n{row})*\n?")
    text = dict(enumerate(vocab)).__getitem__
    new = RuleLogitsProcessor(guide, text, prompt_len=1, batch_size=batch, seed=seed)
    old = LoopRuleLogitsProcessor(guide, text, prompt_len=1, batch_size=batch, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    written = [""] * batch
    ids = torch.zeros(batch, 1, dtype=torch.long)
    constrained = 0
    for _ in range(steps):
        grammar = torch.randn(batch, len(vocab), generator=gen)
        noise = torch.rand(batch, len(vocab), generator=gen)
        for b in range(batch):
            line = written[b].rsplit("\n", 1)[-1]
            if rx.fullmatch(line, partial=True) is None:  # off the grammar until the next newline: anything goes
                grammar[b, noise[b] < 0.5] = -math.inf
                continue
            fits = torch.tensor([t != "<pad>" and rx.fullmatch(line + t, partial=True) is not None for t in vocab])
            keep = fits & (noise[b] > 0.3)
            keep = keep if keep.any() else fits
            grammar[b, ~(keep | (noise[b] < 0.003) | ~fits.any())] = -math.inf
        a, b_ = new(ids, grammar.clone()), old(ids, grammar.clone())
        assert torch.equal(a, b_), (a != b_).nonzero()
        constrained += sum(r.constraint(guide) is not None for r in new.rows)
        nxt = torch.multinomial(torch.softmax(a, dim=-1), 1, generator=gen)
        ids = torch.cat([ids, nxt], dim=1)
        written = [w + vocab[t] for w, t in zip(written, nxt.flatten().tolist())]
    assert new.masked == old.masked
    return new.masked, constrained, new.states


@pytest.mark.parametrize("seed", range(3))
def test_vectorised_processor_drops_exactly_what_the_reference_drops(seed):
    spec = _spec([{"id": "r", "kind": "ordering", "note": "n", "hard": True, "left": "a", "op": "<=", "right": "b"},
                  {"id": "s", "kind": "implication", "note": "n", "hard": True,
                   "if": {"column": "a", "op": ">", "value": 20}, "then": {"column": "g", "op": "in", "value": ["high"]}}])
    vocab = (["<pad>"] + list("0123456789.,\n") + ["1,", "2.", "..", "-", "NA", "N", "A", "NA,", ",\n", "5\n0,",
             "low", "lo", "w", "high", "hi", "gh,", "er", "l", "x", "1x", " ", "1 "])
    masked, constrained, states = _lockstep(RowGuide.for_spec(spec), vocab, steps=250, batch=6, seed=seed)
    # the comparison saw constrained fields and dropped tokens, and verdicts were reused between steps and rows
    assert masked > 200 and constrained > 300 and 0 < states < constrained


def test_vectorised_processor_matches_the_reference_under_steering():
    import numpy as np
    import pandas as pd

    from synllm_mlops.constraints import Steering
    from synllm_mlops.release import CalibrationTargets

    spec = _spec([{"id": "r", "kind": "ordering", "note": "n", "hard": True, "left": "a", "op": "<=", "right": "b"}])
    frame = pd.DataFrame({"y": ["0", "1"] * 50, "a": np.linspace(0, 30, 100), "g": ["low", "high", "lower", None] * 25,
                          "b": np.linspace(10, 50, 100)})
    vocab = ["<pad>"] + list("0123456789.,\n") + ["NA", "N", "A", "low", "lo", "w", "high", "er", "3,", "x"]
    for seed in range(2):
        guide = RowGuide.for_spec(spec, Steering(CalibrationTargets.from_table(frame, spec, n_bins=4), 1.0))
        masked, constrained, _ = _lockstep(guide, vocab, steps=120, batch=5, seed=seed)
        assert masked > 100 and constrained > 200


@pytest.mark.slow
@pytest.mark.parametrize("steer", [False, True])
def test_vectorised_guide_samples_the_same_tokens_as_the_loop_on_the_real_model(hf_backend, steer):
    from synllm_mlops.config import RunConfig
    from synllm_mlops.constraints import Steering, completion_regex
    from synllm_mlops.generation import GenerationParams
    from synllm_mlops.pipeline import prepare

    prep = prepare(RunConfig(dataset="breast_cancer", strategy="featdesc"))
    params = GenerationParams(batch_size=2)

    def sample(processor) -> list[str]:
        steering = Steering(prep.targets, 1.0) if steer else None  # fresh: steering counts what it sees
        with pytest.MonkeyPatch.context() as mp:  # the hf backend builds the processor it imports: swap it there
            mp.setattr("synllm_mlops.generation._hf.RuleLogitsProcessor", processor)
            res = hf_backend.generate(prep.prompt, 2, params, regex=completion_regex(prep.spec, 1), seed=11,
                                      max_new_tokens=40 if steer else 165, guide=RowGuide.for_spec(prep.spec, steering))
        return [c.text for c in res.completions]

    new, old = sample(RuleLogitsProcessor), sample(LoopRuleLogitsProcessor)
    assert new == old
    assert sum(t.count(",") for t in new) >= (12 if steer else 2 * 22)  # steered fields / the ordered ones reached


@pytest.mark.parametrize("shape", [(0, 50, 1), (3.5, 120, 2), (0, 999, 0), (0.25, 7.5, 2)])
def test_numeric_prefix_check_is_exact_for_any_bound(shape):
    """``allows_prefix`` (runs cached per column and text, bounds per constraint) against brute force.

    For random bounds (strict or not, between units or on them), a prefix is allowed iff some value the
    grammar can write for the column starts with it and satisfies the bounds; the same column text checked
    under many bounds shares one cached set of runs, which must never leak one constraint's answer into another.
    """
    lo_col, hi_col, dec = shape
    col = ColumnSpec.model_validate({"name": "x", "type": "numeric", "min": lo_col, "max": hi_col, "decimals": dec})
    values = _values(col)
    prefixes = {v[:i] for v in values for i in range(1, len(v) + 1)}
    rng = random.Random(hash(shape) & 0xFFFF)
    for _ in range(25):
        c = FieldConstraint(col)
        for op in rng.sample([">", ">=", "<", "<="], rng.randint(1, 2)):
            c.add(op, round(rng.uniform(lo_col - 1, hi_col + 1), dec + rng.randint(0, 1)))
        good = [v for v in values if c.allows_value(v)]
        reach = {v[:i] for v in good for i in range(1, len(v) + 1)}
        wrong = [p for p in prefixes if c.allows_prefix(p) != (p in reach)]
        assert not wrong, (c.lo, c.lo_strict, c.hi, c.hi_strict, wrong[:5])
        assert not c.allows_prefix("9" * 5 + ".") or any(v.startswith("99999.") for v in good)


def test_vectorised_processor_synchronises_once_per_step_whatever_the_batch(monkeypatch):
    """No per-sequence device sync: the reads of device data per step do not grow with the batch."""
    spec = _spec([{"id": "r", "kind": "ordering", "note": "n", "hard": True, "left": "a", "op": "<=", "right": "b"}])
    vocab = ["<pad>"] + list("0123456789.,\n") + ["low"]
    reads = {"n": 0}
    for name in ("nonzero", "tolist", "item", "cpu"):
        original = getattr(torch.Tensor, name)

        def counted(self, *a, _original=original, **k):
            reads["n"] += 1
            return _original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, counted)

    def reads_per_step(processor, batch: int) -> float:
        proc = processor(RowGuide.for_spec(spec), dict(enumerate(vocab)).__getitem__, prompt_len=1, batch_size=batch)
        row = [vocab.index(t) for t in [*"1,12.5,", "low", *",1"]]  # every sequence reaches field b, bounded by a = 12.5
        scores = torch.zeros(batch, len(vocab))
        reads["n"] = 0
        for s in range(1, len(row) + 1):
            ids = torch.tensor([[0] + row[:s]] * batch)
            proc(ids, scores.clone())
        assert proc.masked > 0
        return reads["n"] / len(row)

    vec = [reads_per_step(RuleLogitsProcessor, b) for b in (2, 16)]
    loop = [reads_per_step(LoopRuleLogitsProcessor, b) for b in (2, 16)]
    assert vec[0] == vec[1] <= 3  # the tokens just sampled, the allowed pairs (nonzero + its transfer)
    assert loop[1] > loop[0]  # the reference reads each sequence's mask on its own


def test_verdicts_are_kept_on_the_guide_for_the_runs_later_batches():
    spec = _spec([{"id": "r", "kind": "ordering", "note": "n", "hard": True, "left": "a", "op": "<=", "right": "b"}])
    guide = RowGuide.for_spec(spec)
    vocab = ["<pad>"] + list("0123456789.,\n") + ["low"]
    text = dict(enumerate(vocab)).__getitem__
    row = [vocab.index(t) for t in [*"1,12.5,", "low", *",1"]]  # field b, bounded by a = 12.5

    def batch(token_text) -> tuple[int, torch.Tensor]:
        proc = RuleLogitsProcessor(guide, token_text, prompt_len=1, batch_size=2, seed=0)
        out = None
        for s in range(1, len(row) + 1):
            out = proc(torch.tensor([[0] + row[:s]] * 2), torch.zeros(2, len(vocab)))
        return proc.states, out

    first, out1 = batch(text)
    again, out2 = batch(text)  # the same run's next batch: every state already judged
    other, out3 = batch(dict(enumerate(vocab)).__getitem__)  # another tokenizer's ids: judged afresh
    assert first > 0 and again == 0 and other == first
    assert torch.equal(out1, out2) and torch.equal(out1, out3) and not torch.isfinite(out1).all()
