"""Decoding constraints: the output grammar, the rule guide between columns, and steering.

Everything that narrows what a backend may write lives here, on top of the spec's one rule semantics
(:mod:`synllm_mlops.spec`): the grammar (a regular expression per CSV row, hard single-column rules
included), :class:`RowGuide` (hard rules between columns, as a per-field constraint given the earlier
fields), :class:`Steering` (which bin of the released statistics each field should fall in) and the
logits processor that enforces both token by token. Backends declare which of them they honour
(``supports_guide``, ``supports_steering`` in :mod:`synllm_mlops.generation`).
"""

from synllm_mlops.constraints._grammar import column_regex, completion_regex, int_range_regex, number_regex, row_regex
from synllm_mlops.constraints._guide import FieldConstraint, RowGuide, RowTracker, prefix_runs
from synllm_mlops.constraints._mask import LoopRuleLogitsProcessor, RuleLogitsProcessor
from synllm_mlops.constraints._steering import FieldSteer, Steering, admissible, bin_constraint, within_release

__all__ = ["FieldConstraint", "FieldSteer", "LoopRuleLogitsProcessor", "RowGuide", "RowTracker", "RuleLogitsProcessor",
           "Steering", "admissible", "bin_constraint", "column_regex", "completion_regex", "int_range_regex",
           "number_regex", "prefix_runs", "row_regex", "within_release"]
