"""What the policy engine decided, and why, as plain frozen data.

A connection is allowed only when the source's egress *and* the destination's ingress
allow it (https://kubernetes.io/docs/concepts/services-networking/network-policies/,
"for a connection from a source pod to a destination pod to be allowed, both the egress
policy on the source pod and the ingress policy on the destination pod need to allow
the connection"). Each direction is recorded separately so explanations can name the
policy and rule that decided.

The cluster admin's tiers (AdminNetworkPolicy, BaselineAdminNetworkPolicy,
ClusterNetworkPolicy) come before and after NetworkPolicy: a direction records the
Admin/Baseline rule that decided it (``decided_by``), the Pass rules that handed the
decision on (``passed``) and any equal-priority rule that disagreed (``conflicts``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RuleRef:
    """One rule of one policy: ``policy`` is ``namespace/name``, ``index`` 0-based."""

    policy: str
    direction: str  # "ingress" | "egress"
    index: int

    def __str__(self) -> str:
        return f"{self.policy} {self.direction} rule #{self.index}"


@dataclass(frozen=True)
class ClusterRuleRef:
    """One rule of one cluster policy (:mod:`podnet.model.clusterpolicy`)."""

    policy: str  # Kind/name (ClusterNetworkPolicy.key)
    tier: str  # Admin | Baseline
    priority: int
    direction: str  # "ingress" | "egress"
    index: int  # 0-based, in written order
    name: str  # the rule's name, "" when unnamed
    action: str  # Accept | Deny | Pass

    def __str__(self) -> str:
        named = f" ({self.name})" if self.name else ""
        return f"{self.policy} {self.direction} rule #{self.index}{named}"

    def labelled(self) -> str:
        """The rule with its tier and action, e.g. ``... rule #0 (deny-all) [Admin, Deny]``."""
        return f"{self} [{self.tier}, {self.action}]"


NETWORK_POLICY = "NetworkPolicy"  # the tier name for a NetworkPolicy v1 decision
_ORDER_NOTE = "implementation-defined upstream; podnet orders by (priority, kind, name)"


@dataclass(frozen=True)
class DirectionVerdict:
    """The verdict of one direction at one end of a connection.

    ``subject`` is the end whose policies were consulted (the source for egress, the
    destination for ingress) and ``peer`` the other end, both as ``ns/name`` or an IP.
    ``is_pod`` False means the subject is not a pod: no policy can apply to it.
    """

    direction: str
    isolated: bool
    isolating_policies: tuple[str, ...]
    allowed_by: tuple[RuleRef, ...]
    allowed: bool
    subject: str = ""
    peer: str = ""
    port: int = 0
    protocol: str = "TCP"
    is_pod: bool = True
    note: str = ""  # set when a fixed rule decided, e.g. traffic from the pod's own node
    decided_by: ClusterRuleRef | None = None  # an Admin/Baseline Accept or Deny decided
    passed: tuple[ClusterRuleRef, ...] = ()  # Pass rules that handed the decision on
    conflicts: tuple[ClusterRuleRef, ...] = ()  # equal-priority rules with another action

    @property
    def tier(self) -> str:
        """Who decided: ``Admin`` | ``NetworkPolicy`` | ``Baseline``, or "" (default allow,
        a fixed rule, or no pod)."""
        if self.note or not self.is_pod:
            return ""
        if self.decided_by is not None:
            return self.decided_by.tier
        return NETWORK_POLICY if self.isolated else ""

    def _chain(self) -> str:
        return "".join(f"{r.labelled()} passed; " for r in self.passed)

    def _conflict_note(self) -> str:
        if not self.conflicts:
            return ""
        others = ", ".join(c.labelled() for c in self.conflicts)
        return f" (same priority as {others}: {_ORDER_NOTE})"

    def clause(self) -> str:
        """A short clause for :attr:`Verdict.reason`."""
        if self.note:
            return self.note
        if not self.is_pod:
            return f"{self.subject} is not a pod, so no {self.direction} policy applies"
        return self._chain() + self._clause() + self._conflict_note()

    def _clause(self) -> str:
        if self.decided_by is not None:
            word = "allowed" if self.allowed else "denied"
            return f"{self.direction} {word} by {self.decided_by.labelled()}"
        if not self.isolated:
            return f"{self.subject} not isolated for {self.direction}"
        if self.allowed:
            rules = ", ".join(str(r) for r in self.allowed_by)
            return f"{self.direction} allowed by {rules}"
        pols = ", ".join(self.isolating_policies)
        return (
            f"{self.subject} is isolated for {self.direction} by [{pols}] and no rule "
            f"allows {self.peer} on {self.port}/{self.protocol}"
        )

    def explain(self) -> str:
        """One sentence saying what decided this direction."""
        where = "from" if self.direction == "egress" else "to"
        head = f"{self.direction} {where} {self.subject}"
        if self.note:
            return f"{head}: {self.note}"
        if not self.is_pod:
            return f"{head}: not a pod, no policy applies - allowed"
        return f"{head}: {self._chain()}{self._explain()}{self._conflict_note()}"

    def _explain(self) -> str:
        if self.decided_by is not None:
            word = "allowed" if self.allowed else "denied"
            return (
                f"{self.decided_by.tier} tier: {self.decided_by.labelled()} matches "
                f"{self.peer} on {self.port}/{self.protocol} - {word}"
            )
        if not self.isolated:
            return (
                f"no NetworkPolicy with policyType {self.direction.capitalize()} "
                f"selects it, so it is not isolated - allowed"
            )
        pols = ", ".join(self.isolating_policies)
        if self.allowed:
            rules = ", ".join(str(r) for r in self.allowed_by)
            return (
                f"isolated by [{pols}]; {self.peer} on {self.port}/{self.protocol} "
                f"allowed by {rules}"
            )
        return (
            f"isolated by [{pols}]; no rule allows {self.peer} on "
            f"{self.port}/{self.protocol} - denied"
        )

    def renamed(self, subject: str, peer: str) -> DirectionVerdict:
        """The same decision for another member of the same equivalence class."""
        return replace(self, subject=subject, peer=peer)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    egress: DirectionVerdict
    ingress: DirectionVerdict
    reason: str

    @staticmethod
    def of(egress: DirectionVerdict, ingress: DirectionVerdict) -> Verdict:
        allowed = egress.allowed and ingress.allowed
        return Verdict(allowed, egress, ingress, format_reason(egress, ingress))

    def renamed(self, src: str, dst: str) -> Verdict:
        """This verdict with the endpoints renamed (same class, another pod pair)."""
        return Verdict.of(self.egress.renamed(src, dst), self.ingress.renamed(dst, src))

    def explain(self) -> str:
        word = "allowed" if self.allowed else "denied"
        return f"{self.egress.explain()}\n{self.ingress.explain()}\nresult: {word}"


def format_reason(egress: DirectionVerdict, ingress: DirectionVerdict) -> str:
    """One readable sentence: every direction when allowed, the failing ones when not."""
    if egress.allowed and ingress.allowed:
        return f"allowed: {egress.clause()}; {ingress.clause()}"
    failing = [d.clause() for d in (egress, ingress) if not d.allowed]
    return "denied: " + "; ".join(failing)
