"""A DP champion's guard size is read off the release's noisy count, never the real row count."""

from synllm_mlops.config import RunConfig
from synllm_mlops.release import make_release
from synllm_mlops.tuning._study import guard_size


def test_the_guard_size_comes_from_the_noisy_count_and_covers_the_table(cirrhosis):
    spec, real, split = cirrhosis
    cfg = RunConfig()
    assert guard_size(make_release(spec, split.train), cfg) is None  # exact run: no padding
    assert guard_size(make_release(spec, split.train, targets=False, dp_epsilon=1.0), cfg) is None  # no noisy n
    for _ in range(5):
        release = make_release(spec, split.train, dp_epsilon=1.0)
        size = guard_size(release, cfg)
        assert size == int(2 * release.targets.n / 0.8) + 100 and size > len(real)
