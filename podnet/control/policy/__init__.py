"""The policy engine (Admin tier, NetworkPolicy, Baseline tier): pure verdicts that
analyze, explain and probe's prediction share.

Kept apart from :mod:`podnet.dataplane.policy`, which compiles the same policies to nftables
independently, so ``podnet probe`` comparing the two is a real check.
"""

from podnet.control.policy.engine import PolicyEngine
from podnet.control.policy.explain import describe_policy
from podnet.control.policy.verdict import ClusterRuleRef, DirectionVerdict, RuleRef, Verdict

__all__ = [
    "ClusterRuleRef",
    "DirectionVerdict",
    "PolicyEngine",
    "RuleRef",
    "Verdict",
    "describe_policy",
]
