"""The discrete Laplace (two-sided geometric) mechanism, sampled exactly from the operating system's CSPRNG.

Noise never comes from numpy or from the run's seed: anyone who knows the seed (it is logged) could
regenerate a seeded draw and subtract it. DP releases are therefore not bit-reproducible, by design.
"""

from __future__ import annotations

import math
import secrets
from fractions import Fraction

import numpy as np

from synllm_mlops.errors import PrivacyBudgetError

_RNG = secrets.SystemRandom()  # os.urandom underneath; not seedable, not affected by numpy's global seed
_RATIO_BITS = 30  # epsilon/sensitivity is rounded *down* to a multiple of 2**-30: never less noise than charged


def _bernoulli_exp_le1(num: int, den: int) -> bool:
    """Bernoulli(exp(-num/den)) for 0 <= num <= den, exactly (Canonne, Kamath & Steinke 2020, Algorithm 1)."""
    k = 1
    while _RNG.randrange(den * k) < num:  # A ~ Bernoulli(gamma / k)
        k += 1
    return k % 2 == 1


def _bernoulli_exp(num: int, den: int) -> bool:
    """Bernoulli(exp(-num/den)) for any num >= 0: exp(-1) once per whole unit of gamma, then the rest."""
    while num > den:
        if not _bernoulli_exp_le1(1, 1):
            return False
        num -= den
    return _bernoulli_exp_le1(num, den)


def _discrete_laplace(s: int, t: int) -> int:
    """One draw of P(y) proportional to exp(-|y| s/t) over the integers (CKS 2020, Algorithm 2)."""
    while True:
        u = _RNG.randrange(t)
        if not _bernoulli_exp(u, t):
            continue
        v = 0
        while _bernoulli_exp(1, 1):
            v += 1
        y = (u + t * v) // s
        negative = _RNG.randrange(2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


def _ratio(epsilon: float, sensitivity: float) -> Fraction:
    for name, v in (("epsilon", epsilon), ("sensitivity", sensitivity)):
        if not (math.isfinite(v) and v > 0):
            raise PrivacyBudgetError(f"the discrete Laplace mechanism needs a finite {name} > 0, got {v!r}")
    exact = Fraction(epsilon) / Fraction(sensitivity)
    return Fraction(math.floor(exact * 2**_RATIO_BITS), 2**_RATIO_BITS) or exact


def discrete_laplace(epsilon: float, sensitivity: float, size: int) -> np.ndarray:
    """``size`` independent draws of discrete Laplace noise for an integer query of L1 ``sensitivity``.

    P(noise = k) = (1 - a) / (1 + a) * a**|k| with a = exp(-epsilon / sensitivity): adding one draw per
    coordinate to an integer vector whose L1 distance between neighbouring tables is at most
    ``sensitivity`` is epsilon-DP (the geometric mechanism, Ghosh, Roughgarden & Sundararajan 2009;
    Canonne, Kamath & Steinke 2020, "The Discrete Gaussian for Differential Privacy", Sec. 2).
    Sampled exactly with integer arithmetic (no floating-point leak, cf. Mironov 2012) from
    ``secrets.SystemRandom``; epsilon/sensitivity is rounded down to a multiple of 2**-30 first.

    Returns:
        int64 array of shape ``(size,)``.
    """
    r = _ratio(epsilon, sensitivity)
    s, t = r.numerator, r.denominator
    return np.fromiter((_discrete_laplace(s, t) for _ in range(int(size))), dtype=np.int64, count=int(size))


def discrete_laplace_variance(epsilon: float, sensitivity: float) -> float:
    """Variance of one :func:`discrete_laplace` draw: ``2a / (1 - a)**2`` with ``a = exp(-epsilon/sensitivity)``."""
    a = math.exp(-float(_ratio(epsilon, sensitivity)))
    return 2 * a / (1 - a) ** 2
