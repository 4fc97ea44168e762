"""The memorisation probe detects a model that completes real rows, and reads ~0 for one that does not."""

import pytest
from evaluation_tables import SPEC, simulate

from synllm_mlops.errors import ConfigError
from synllm_mlops.evaluation import memorisation_probe
from synllm_mlops.generation import Completion, GenerationBackend, ModelInfo, make_backend
from synllm_mlops.prompts import format_rows

ROWS = simulate(200, 1).drop_duplicates("x").reset_index(drop=True)  # one row per 1-field prefix


class Memoriser(GenerationBackend):
    """A test double that has read the table: it answers a prefix with the real row's remainder."""

    name = "memoriser"

    def __init__(self, rows, k: int, whole_row: bool = False):
        lines = format_rows(rows, SPEC).splitlines()
        self.table = {",".join(ln.split(",")[:k]): ln for ln in lines}
        self.k, self.whole_row, self.prompts = k, whole_row, []

    def info(self) -> ModelInfo:
        return ModelInfo("memoriser", "memoriser", "0", "none", self.name, "cpu")

    def _generate_batch(self, prompt, batch_size, params, regex, max_new_tokens, seed, guide=None):
        self.prompts.append(prompt)
        line = self.table[prompt.variables["prefix"]]
        text = line if self.whole_row else ",".join(line.split(",")[self.k:])
        return [Completion(text + "\n", 5)] * batch_size


def test_a_memorising_model_is_caught_and_beats_chance():
    model = Memoriser(ROWS, k=1)
    out = memorisation_probe(model, SPEC, ROWS, n_prefix_fields=1, n_probes=50, seed=0)
    assert out["memorisation_rate"] == 1.0 and out["n_probes"] == 50 and out["parse_rate"] == 1.0
    assert out["baseline_rate"] < 0.05 and out["ci"][0] > 0.9
    assert out["field_match_rate"] == {"y": 1.0, "c": 1.0, "t": 1.0}
    assert 0.3 < out["baseline_field_match_rate"]["t"] < 0.7  # a binary target matches a random row half the time
    assert out["completed_columns"] == ["y", "c", "t"] and out["prefix_columns"] == ["x"]
    # the prompt holds the header and the prefix, never the answer
    remainder = ",".join(format_rows(ROWS.iloc[:1], SPEC).split(",")[1:])
    assert all("x,y,c,t" in p.user and not p.user.endswith(remainder) for p in model.prompts)


def test_a_model_that_rewrites_the_whole_row_is_realigned():
    out = memorisation_probe(Memoriser(ROWS, k=2, whole_row=True), SPEC, ROWS, n_prefix_fields=2, n_probes=30)
    assert out["memorisation_rate"] == 1.0


def test_a_model_that_has_not_read_the_table_scores_about_chance():
    fake = make_backend("fake", "fake", spec=SPEC)
    out = memorisation_probe(fake, SPEC, ROWS, n_prefix_fields=1, n_probes=100, seed=0)
    assert out["memorisation_rate"] <= 0.02 and out["baseline_rate"] <= 0.02
    assert abs(out["excess_field_match"]) < 0.15 and out["parse_rate"] == 1.0
    real_values = set(format_rows(ROWS, SPEC).replace("\n", ",").split(",")) - {"NA", "a", "b", "c", "0", "1"}
    assert not real_values & set(str(out).replace("'", " ").replace(",", " ").split())  # rates and counts only


def test_probe_arguments_are_checked():
    with pytest.raises(ConfigError, match=r"n_prefix_fields must be in \[1, 3\] for 4 columns, got 4"):
        memorisation_probe(Memoriser(ROWS, 1), SPEC, ROWS, n_prefix_fields=4)
    with pytest.raises(ConfigError, match="at least 2 real rows"):
        memorisation_probe(Memoriser(ROWS, 1), SPEC, ROWS.head(1), n_prefix_fields=1)
