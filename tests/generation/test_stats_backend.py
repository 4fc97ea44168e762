"""The no-LLM control backend: it samples the run's release through the steering graph, at the columns' precision."""

import numpy as np
import pandas as pd
import pytest

from synllm_mlops.config import RunConfig
from synllm_mlops.errors import CapabilityError
from synllm_mlops.pipeline import generate_rows, prepare


def _control(n_rows=600, **kw):
    prep = prepare(RunConfig(backend="stats", model="stats", n_rows=n_rows, **kw))
    return prep, generate_rows(prep, progress=False)


def test_a_run_that_does_not_steer_cannot_use_the_control_backend():
    for calibration in ("select", "none"):
        with pytest.raises(CapabilityError, match="samples the released calibration targets.*fix: set calibration=steer"):
            prepare(RunConfig(backend="stats", model="stats", calibration=calibration))


def test_the_control_reproduces_the_released_marginals_and_the_steered_pairs():
    # exact targets: under DP most pair tables are released as independence, which a shuffled table matches best
    prep, out = _control(calibration="steer", dp_epsilon="none")
    table = out.synthetic
    assert len(table) == 600 and out.metrics["gen/validity_rate"] == 1.0
    err = prep.targets.errors(table)
    # the same columns drawn independently of each other keep the marginals and lose the pairs
    rng = np.random.default_rng(0)
    shuffled = table.apply(lambda c: c.sample(frac=1, random_state=int(rng.integers(1 << 31))).to_numpy())
    independent = prep.targets.errors(pd.DataFrame(shuffled, columns=table.columns))
    assert err["marginal_tv"] < 0.06, err
    assert err["pairwise_tv"] < independent["pairwise_tv"] - 0.01, (err, independent)


def test_values_are_written_at_each_columns_precision_inside_its_range():
    prep, out = _control(n_rows=200)
    from synllm_mlops.prompts import to_csv

    lines = to_csv(out.synthetic, prep.spec).splitlines()[1:]
    for col_i, col in enumerate(prep.spec.columns):
        if not col.is_numeric:
            continue
        values = [ln.split(",")[col_i] for ln in lines]
        written = [v for v in values if v != "NA"]
        assert all(len(v.split(".")[1]) == col.decimals if col.decimals else "." not in v for v in written), col.name
        assert all(col.min <= float(v) <= col.max for v in written), col.name


def test_the_same_seed_gives_the_same_control_table():
    a = _control(n_rows=50, dp_epsilon="none")[1].synthetic  # a DP release's noise is never seeded
    b = _control(n_rows=50, dp_epsilon="none")[1].synthetic
    pd.testing.assert_frame_equal(a, b)
