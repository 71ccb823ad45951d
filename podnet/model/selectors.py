"""Label selectors, as in apimachinery ``metav1.LabelSelector``.

Semantics (k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go LabelSelectorAsSelector):
every matchLabels entry and every matchExpressions requirement must hold (AND);
an empty selector matches everything. ``NotIn`` and ``DoesNotExist`` match objects that
lack the key. Whether an *absent* selector means "nothing" or "everything" depends on
the field that holds it, so that decision is left to the caller (``None`` vs ``EMPTY``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: Labels) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        raise ValueError(f"unknown operator {self.operator!r}")

    def __str__(self) -> str:
        if self.operator == "Exists":
            return self.key
        if self.operator == "DoesNotExist":
            return f"!{self.key}"
        op = "in" if self.operator == "In" else "notin"
        return f"{self.key} {op} ({','.join(self.values)})"


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: Labels) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        return all(req.matches(labels) for req in self.match_expressions)

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def __str__(self) -> str:
        """kubectl's rendering: ``app=web,tier in (a,b)``; ``<all>`` when empty."""
        if self.is_empty:
            return "<all>"
        parts = [f"{k}={v}" for k, v in self.match_labels]
        parts += [str(r) for r in self.match_expressions]
        return ",".join(parts)

    @staticmethod
    def from_labels(labels: Mapping[str, str]) -> LabelSelector:
        return LabelSelector(match_labels=tuple(sorted(labels.items())))


EMPTY = LabelSelector()


def matches_map(selector: Mapping[str, str], labels: Labels) -> bool:
    """A Service's plain ``map[string]string`` selector (all pairs must match)."""
    return all(labels.get(k) == v for k, v in selector.items())
