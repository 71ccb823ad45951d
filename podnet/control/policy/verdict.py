"""What the policy engine decided, and why, as plain frozen data.

A connection is allowed only when the source's egress *and* the destination's ingress
allow it (https://kubernetes.io/docs/concepts/services-networking/network-policies/,
"for a connection from a source pod to a destination pod to be allowed, both the egress
policy on the source pod and the ingress policy on the destination pod need to allow
the connection"). Each direction is recorded separately so explanations can name the
policy and rule that decided.
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

    def clause(self) -> str:
        """A short clause for :attr:`Verdict.reason`."""
        if self.note:
            return self.note
        if not self.is_pod:
            return f"{self.subject} is not a pod, so no {self.direction} policy applies"
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
        if not self.isolated:
            return (
                f"{head}: no NetworkPolicy with policyType {self.direction.capitalize()} "
                f"selects it, so it is not isolated - allowed"
            )
        pols = ", ".join(self.isolating_policies)
        if self.allowed:
            rules = ", ".join(str(r) for r in self.allowed_by)
            return (
                f"{head}: isolated by [{pols}]; {self.peer} on {self.port}/{self.protocol} "
                f"allowed by {rules}"
            )
        return (
            f"{head}: isolated by [{pols}]; no rule allows {self.peer} on "
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
