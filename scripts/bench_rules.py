"""Rule guide cost: tokens/s of the hf backend with the rule guide vs without it, same process, same model.

Variants, each sampling ``batch`` sequences of one row (grammar on in all):
  none  -- the grammar alone;
  loop  -- the rule guide as it was (every sequence, every allowed token checked in Python each step);
  vec   -- the rule guide as it is (one masked fill over the batch per step);
  steer -- the rule guide with calibration steering (every field constrained), with ``--steer``.

Variants run interleaved, in a rotating order, in every repeat (the machine is shared: ratios within one
process and medians of repeats are what to read, not absolute figures).

    python scripts/bench_rules.py --dataset breast_cancer --strategy clin_rule --batch-size 16 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics


def processor_only(args) -> None:
    """ms per decoding step of each processor at ``batch``: sequences write real train rows, token by token.

    The "grammar" allows the tokens a numeric or diagnosis field can hold (digits, ``.``, ``,``, newline,
    ``M``, ``B``), with random scores. No model runs: this isolates the guide's own cost per step.
    """
    import time

    import torch
    from transformers import AutoTokenizer

    from synllm_mlops.config import RunConfig
    from synllm_mlops.constraints import LoopRuleLogitsProcessor, RowGuide, RuleLogitsProcessor, Steering
    from synllm_mlops.generation import resolve_model
    from synllm_mlops.generation._weights import dequantized_dir
    from synllm_mlops.pipeline import prepare

    prep = prepare(RunConfig(dataset=args.dataset, strategy=args.strategy, model=args.model))
    tok = AutoTokenizer.from_pretrained(str(dequantized_dir(resolve_model(args.model))))
    texts = tok.batch_decode([[t] for t in range(len(tok))], skip_special_tokens=True)
    spec, train = prep.spec, prep.split.train
    def fmt(col, v) -> str:
        return "NA" if v != v else (f"{float(v):.{col.decimals}f}" if col.is_numeric else str(v))
    n_batches = max(1, min(args.batches, len(train) // args.batch_size))
    lines = [",".join(fmt(c, r[c.name]) for c in spec.columns) + "\n"
             for _, r in train.head(n_batches * args.batch_size).iterrows()]
    seqs = [tok(line, add_special_tokens=False)["input_ids"] for line in lines]
    steps = min(len(x) for x in seqs)
    ids = torch.tensor([x[:steps] for x in seqs]).view(n_batches, args.batch_size, steps)
    allowed = torch.tensor([t.strip() != "" and all(ch in "0123456789.,\nMB" for ch in t) and len(t) <= 2
                            for t in texts])
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(args.repeats, steps, len(texts), generator=gen)
    scores[:, :, ~allowed] = -float("inf")
    text_of = texts.__getitem__
    out: dict[str, tuple[float, float | None]] = {}
    for name in [v for v in args.variants.split(",") if v != "none"]:
        first, later = [], []
        for r in range(args.repeats):
            steering = Steering(prep.targets, 1.0) if name == "steer" else None
            guide = RowGuide.for_spec(spec, steering)  # one per run: its verdicts serve the run's later batches
            if guide is None:  # no hard rule between two columns: only steering constrains a field
                break
            for k in range(n_batches):  # consecutive batches of the run, each replaying its own train rows
                cls = LoopRuleLogitsProcessor if name == "loop" else RuleLogitsProcessor
                proc = cls(guide, text_of, 1, args.batch_size, r * n_batches + k)
                spent = 0.0
                for s in range(steps):
                    step = scores[r, s].expand(args.batch_size, -1).clone()  # a fresh copy, not timed
                    t0 = time.perf_counter()
                    proc(ids[k, :, : s + 1], step)
                    spent += time.perf_counter() - t0
                (first if k == 0 else later).append(1000 * spent / steps)
        if first:
            out[name] = (statistics.median(first), statistics.median(later) if later else None)
        else:
            print(f"{name}: {args.dataset} has no hard rule between two columns, so no guide without steering")
    print(f"\n{args.dataset}, batch {args.batch_size}, {n_batches} batch(es) of {steps} steps replaying train rows, "
          f"medians of {args.repeats}\n")
    print("| processor | ms per step, first batch | ms per step, later batches |")
    print("|---|---|---|")
    for name, (ms, ms_later) in out.items():
        print(f"| {name} | {ms:.2f} | {'-' if ms_later is None else f'{ms_later:.2f}'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="breast_cancer")
    ap.add_argument("--strategy", default="clin_rule")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=210, help="one breast_cancer row is ~205 tokens")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--variants", default="none,loop,vec", help="comma-separated: none, loop, vec, steer")
    ap.add_argument("--batches", type=int, default=1,
                    help="with --processor-only: consecutive batches of one run (one guide), each its own train rows")
    ap.add_argument("--processor-only", action="store_true",
                    help="time the two processors alone, replaying real train rows (no model forward; quick)")
    args = ap.parse_args()
    if args.processor_only:
        return processor_only(args)

    import torch

    from synllm_mlops.config import RunConfig
    from synllm_mlops.constraints import LoopRuleLogitsProcessor, RowGuide, RuleLogitsProcessor, Steering, completion_regex
    from synllm_mlops.generation import GenerationParams, make_backend
    from synllm_mlops.generation import _hf
    from synllm_mlops.pipeline import prepare

    prep = prepare(RunConfig(dataset=args.dataset, strategy=args.strategy, model=args.model))
    backend = make_backend("hf", args.model).load()
    params = GenerationParams(batch_size=args.batch_size)
    regex = completion_regex(prep.spec, 1)
    backend._prefill(backend.prompt_text(prep.prompt))  # the one-off prefill is not what we time
    variants = args.variants.split(",")
    print(f"torch threads {torch.get_num_threads()}, prompt {backend.count_tokens(backend.prompt_text(prep.prompt))} "
          f"tokens, batch {args.batch_size}, {args.max_new_tokens} new tokens", flush=True)

    def run(variant: str, seed: int, max_new_tokens: int = args.max_new_tokens) -> float:
        guide = None
        if variant != "none":
            steering = Steering(prep.targets, 1.0) if variant == "steer" else None
            guide = RowGuide.for_spec(prep.spec, steering)
        # the backend builds the processor its module imports: the reference one is swapped in there
        _hf.RuleLogitsProcessor = LoopRuleLogitsProcessor if variant == "loop" else RuleLogitsProcessor
        res = backend.generate(prep.prompt, args.batch_size, params, regex=regex, max_new_tokens=max_new_tokens,
                               seed=seed, guide=guide)
        return res.n_tokens / res.seconds

    for v in variants:  # untimed warm-up: the grammar's compilation and first-call costs land in no variant
        run(v, seed=10_000, max_new_tokens=8)
    tps: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(args.repeats):
        for v in variants[r % len(variants):] + variants[: r % len(variants)]:
            tps[v].append(run(v, seed=r))
        print(f"repeat {r}: " + ", ".join(f"{v} {tps[v][-1]:.1f}" for v in variants), flush=True)
    med = {v: statistics.median(x) for v, x in tps.items()}
    print(f"\n{args.dataset}/{args.strategy}, {args.model}, batch {args.batch_size}, medians of {args.repeats} repeats\n")
    print("| variant | tokens/s | vs grammar alone |")
    print("|---|---|---|")
    base = med.get("none")
    for v in variants:
        ratio = f"{100 * med[v] / base:.0f} %" if base else "-"
        print(f"| {v} | {med[v]:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
