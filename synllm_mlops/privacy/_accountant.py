"""The privacy accountant: one epsilon budget per run, charged by every release derived from real data."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass

from synllm_mlops.errors import PrivacyBudgetError

NEIGHBOURS = ("add/remove one patient (one row) of the CSV; the keyed per-row split puts that row in train or "
              "holdout without moving any other, so train changes by at most that one row")
COMPOSITION = "basic sequential composition: the epsilons of all releases add up"
_SLACK = 1e-9  # relative: lets a budget be split into float shares (eps/3 three times) and spent exactly


def _positive(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v > 0


@dataclass(frozen=True)
class LedgerEntry:
    """One release charged to a budget.

    Attributes:
        release: what was released, e.g. ``"histogram:Age"``.
        mechanism: the noise mechanism, e.g. ``"discrete_laplace"``.
        sensitivity: L1 sensitivity of the released vector under :data:`NEIGHBOURS`.
        epsilon: the epsilon this release spends.
        note: why the sensitivity holds (parallel composition over disjoint cells, clipping, ...).
    """

    release: str
    mechanism: str
    sensitivity: float
    epsilon: float
    note: str = ""


class PrivacyBudget:
    """An epsilon budget for pure epsilon-DP releases, with a ledger of what spent it.

    One budget per run. Each release is charged *before* it is computed; a charge that would spend
    more than what remains raises :class:`~synllm_mlops.errors.PrivacyBudgetError` and nothing is
    spent. Releases compose sequentially (Dwork & Roth 2014, Theorem 3.16): the run as a whole is
    ``spent``-DP for :data:`NEIGHBOURS` (one patient more or less in the CSV, so at most one row of train). Cells of one histogram are disjoint (one row
    changes one cell), so a whole histogram is one release of L1 sensitivity 1 (parallel
    composition over its cells); entries say so in their ``note``.

    Example:
        >>> budget = PrivacyBudget(1.0)
        >>> budget.charge("histogram:Age", "discrete_laplace", sensitivity=1, epsilon=0.25).epsilon
        0.25
        >>> budget.remaining
        0.75
    """

    def __init__(self, epsilon: float):
        if not _positive(epsilon):
            raise PrivacyBudgetError(f"a privacy budget needs a finite epsilon > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self._ledger: list[LedgerEntry] = []
        self._spent = 0.0  # running sum, so that charging stays O(1) however long the ledger grows

    @property
    def spent(self) -> float:
        """Total epsilon charged so far."""
        return self._spent

    @property
    def remaining(self) -> float:
        """Epsilon still available (never negative)."""
        return max(self.epsilon - self.spent, 0.0)

    @property
    def ledger(self) -> list[LedgerEntry]:
        """The releases charged so far, in order (a copy)."""
        return list(self._ledger)

    def charge(self, release: str, mechanism: str, sensitivity: float, epsilon: float, *, note: str = "") -> LedgerEntry:
        """Record a release of ``epsilon``; refuse it when the budget cannot pay.

        Raises:
            PrivacyBudgetError: ``epsilon`` or ``sensitivity`` is not a finite number > 0, or the
                charge exceeds :attr:`remaining`.
        """
        for name, v in (("epsilon", epsilon), ("sensitivity", sensitivity)):
            if not _positive(v):
                raise PrivacyBudgetError(f"release {release!r}: {name} must be a finite number > 0, got {v!r}")
        if epsilon > self.remaining + _SLACK * self.epsilon:
            raise PrivacyBudgetError(
                f"release {release!r} needs epsilon {epsilon:.6g} but only {self.remaining:.6g} of the run's "
                f"budget {self.epsilon:.6g} remains ({len(self._ledger)} releases made); raise dp_epsilon or release less")
        entry = LedgerEntry(release, mechanism, float(sensitivity), float(epsilon), note)
        self._ledger.append(entry)
        self._spent += entry.epsilon
        return entry

    def to_dict(self) -> dict:
        """The ledger as the run logs it (part of the run's ``release/release.json``)."""
        return {"epsilon": self.epsilon, "spent": self.spent, "remaining": self.remaining,
                "neighbours": NEIGHBOURS, "composition": COMPOSITION,
                "releases": [asdict(e) for e in self._ledger]}

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2)

    def __repr__(self) -> str:
        return f"PrivacyBudget(epsilon={self.epsilon:g}, spent={self.spent:.6g}, releases={len(self._ledger)})"
