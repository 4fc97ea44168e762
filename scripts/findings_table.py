"""The README's findings rows from a ``synllm main --repeats N`` run: the model, the no-LLM control, the lift.

``main --repeats N`` logs a parent run over N nested seeds; each seed's run holds its own scores and its control
(``control/*``: the ``stats`` backend on the same release and split). This script reads the nested runs back and
prints, per metric, the model's mean ± 95 % t-interval over seeds, the control's (each seed's control mean), and
the lift paired seed by seed with its interval and the smallest lift the comparison could detect (two-sided
α = 0.05, power 0.8: ``(t_.975 + t_.8) · sd / sqrt(n)``).

Usage:
    synllm main --repeats 10                                  # prints "run <parent id>: 10 seeds; ..."
    python scripts/findings_table.py --run-id <parent id>     # same MLFLOW_TRACKING_URI as the run
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
        "privacy/dcr_share_closer_to_train")


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


def main() -> None:
    import mlflow

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-id", required=True, help="the parent run of `synllm main --repeats N`")
    args = ap.parse_args()
    client = mlflow.MlflowClient()
    parent = client.get_run(args.run_id)
    found = client.search_runs([parent.info.experiment_id],
                               filter_string=f"tags.mlflow.parentRunId = '{args.run_id}'", max_results=1000)
    from synllm_mlops.tracking import cell_metrics

    found = sorted((r for r in found if "seed" in r.data.params), key=lambda r: int(r.data.params["seed"]))
    merged = cell_metrics([r.info.run_id for r in found])  # a DP seed run's scores sit in its evaluation child
    children = [merged[r.info.run_id] for r in found if "score/harmonic" in merged[r.info.run_id]]
    if not children:
        sys.exit(f"run {args.run_id} has no evaluated nested runs; fix: pass the parent run of `synllm main --repeats N`")
    p = parent.data.params
    print(f"{p.get('dataset')} · {p.get('strategy')} · {p.get('model')} · {p.get('n_rows')} rows · "
          f"dp_epsilon={p.get('dp_epsilon')} · release_level={p.get('release_level', '-')} · "
          f"seeds {min(int(r.data.params['seed']) for r in found)}..{max(int(r.data.params['seed']) for r in found)}\n")
    print(table(children, p.get("dataset", "table")))


if __name__ == "__main__":
    main()
