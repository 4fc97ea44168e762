"""The README's findings rows from a ``synllm main --repeats N`` run: the model, the no-LLM control, the lift.

``main --repeats N`` logs a parent run over N nested seeds; each seed's run holds its own scores and its control
(``control/*``: the ``stats`` backend on the same release and split). This script reads the nested runs back and
prints, per metric, the model's mean ± 95 % t-interval over seeds, the control's (each seed's control mean), and
the lift paired seed by seed with its interval and the smallest lift the comparison could detect (two-sided
α = 0.05, power 0.8: ``(t_.975 + t_.8) · sd / sqrt(n)``).

Several parents of the same configuration on disjoint seeds (e.g. seeds 0–2 one day, ``--seed 3 --repeats 7``
the next) are read as one sample: pass each with ``--run-id``. Parents whose settings differ (other than
``seed`` and ``repeats``), or that share a finished seed, are refused: their seeds are not one sample. A seed run
that did not finish (killed, failed, still running) is skipped with a note, so an interrupted seed can be re-run
under a new parent (``--seed 4 --repeats 2``) and read beside the old one.

Usage:
    synllm main --repeats 10                                  # prints "run <parent id>: 10 seeds; ..."
    python scripts/findings_table.py --run-id <parent id>     # same MLFLOW_TRACKING_URI as the run
    python scripts/findings_table.py --run-id <seeds 0-2> --run-id <seeds 3-9>
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

KEYS = ("score/harmonic", "score/quality", "score/privacy", "fidelity/column_pair_trends", "fidelity/three_way",
        "fidelity/feature_pair_trends", "fidelity/detection_auc", "utility/tstr_auc", "fidelity/in_bin_ks",
        "privacy/dcr_share_closer_to_train", "fidelity/in_bin_limit_share")


def _cell(values: list[float]) -> str:
    from synllm_mlops.evaluation import t_interval

    mean, half = t_interval(values)
    if math.isnan(mean):
        return "–"
    return f"{mean:.3f} ± {half:.3f}" if not math.isnan(half) else f"{mean:.3f}"


def table(children: list[dict[str, float]], label: str) -> str:
    """Markdown rows: the model, the control and the paired lift (with its detectable difference) per metric."""
    from synllm_mlops.evaluation import paired_min_detectable

    keys = [k for k in KEYS if any(k in m for m in children)]
    head = "| " + label + " | " + " | ".join(k.split("/", 1)[1] for k in keys) + " |"
    lines = [head, "|---|" + "---|" * len(keys)]
    ours = {k: [m.get(k, math.nan) for m in children] for k in keys}
    ctrl = {k: [m.get(f"control/{k}", math.nan) for m in children] for k in keys}
    lines.append(f"| model, mean ± 95 % CI (n = {len(children)} seeds) | " + " | ".join(_cell(ours[k]) for k in keys)
                 + " |")
    lines.append("| no-LLM control (`stats`, same release and split) | " + " | ".join(_cell(ctrl[k]) for k in keys)
                 + " |")
    lift, mde = [], []
    for k in keys:
        d = [a - b for a, b in zip(ours[k], ctrl[k]) if not (math.isnan(a) or math.isnan(b))]
        lift.append(_cell(d))
        mde.append(f"{paired_min_detectable(float(np.std(d, ddof=1)), len(d)):.3f}" if len(d) > 1 else "–")
    lines.append("| lift = model − control, paired by seed | " + " | ".join(lift) + " |")
    lines.append("| smallest lift this could detect | " + " | ".join(mde) + " |")
    return "\n".join(lines)


SEED_PARAMS = ("seed", "repeats")  # the only settings in which parents read as one sample may differ


def seed_runs(client, parent_ids: list[str]) -> tuple[dict[str, str], list]:
    """The parents' common settings and their nested seed runs in seed order; refuses parents not one sample."""
    params: dict[str, str] | None = None
    runs, seen = [], {}
    for run_id in parent_ids:
        parent = client.get_run(run_id)
        p = {k: v for k, v in parent.data.params.items() if k not in SEED_PARAMS}
        if params is None:
            params = p
        elif p != params:
            diff = sorted(k for k in set(p) | set(params) if p.get(k) != params.get(k))
            sys.exit(f"run {run_id} differs from run {parent_ids[0]} in {', '.join(diff)}: its seeds are not the same "
                     "sample; fix: pass only parents of one configuration")
        found = client.search_runs([parent.info.experiment_id],
                                   filter_string=f"tags.mlflow.parentRunId = '{run_id}'", max_results=1000)
        for r in found:
            if "seed" not in r.data.params:
                continue
            if r.info.status != "FINISHED":  # an interrupted seed is re-run in a later parent, not counted twice
                print(f"skipped seed {r.data.params['seed']} of run {run_id}: its run is {r.info.status}, not "
                      "FINISHED", file=sys.stderr)
                continue
            seed = int(r.data.params["seed"])
            if seed in seen:
                sys.exit(f"seed {seed} is in run {seen[seed]} and in run {run_id}: a seed counted twice narrows the "
                         "interval falsely; fix: pass parents on disjoint seeds")
            seen[seed] = run_id
            runs.append(r)
    return params or {}, sorted(runs, key=lambda r: int(r.data.params["seed"]))


def main(argv: list[str] | None = None) -> None:
    import mlflow

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-id", required=True, action="append",
                    help="the parent run of `synllm main --repeats N`; repeat for parents on further seeds")
    args = ap.parse_args(argv)
    client = mlflow.MlflowClient()
    p, found = seed_runs(client, args.run_id)
    from synllm_mlops.tracking import cell_metrics

    merged = cell_metrics([r.info.run_id for r in found])  # a DP seed run's scores sit in its evaluation child
    children = [merged[r.info.run_id] for r in found if "score/harmonic" in merged[r.info.run_id]]
    if not children:
        sys.exit(f"run(s) {', '.join(args.run_id)} have no evaluated nested runs; fix: pass the parent run of "
                 "`synllm main --repeats N`")
    seeds = sorted(int(r.data.params["seed"]) for r in found if "score/harmonic" in merged[r.info.run_id])
    span = (f"seeds {seeds[0]}..{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1))
            else "seeds " + ", ".join(map(str, seeds)))
    print(f"{p.get('dataset')} · {p.get('strategy')} · {p.get('model')} · {p.get('n_rows')} rows · "
          f"dp_epsilon={p.get('dp_epsilon')} · release_level={p.get('release_level', '-')} · {span}\n")
    print(table(children, p.get("dataset", "table")))


if __name__ == "__main__":
    main()
