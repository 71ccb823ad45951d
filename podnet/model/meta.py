"""Where an object came from: its kind, name and file:line, for messages."""

from __future__ import annotations

from dataclasses import dataclass

from podnet.errors import Location


@dataclass(frozen=True)
class Meta:
    """Where an object came from, for error messages and explanations."""

    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str
    location: Location | None = None

    @property
    def ref(self) -> str:
        """``Kind/namespace/name`` (``Kind/name`` when cluster-scoped)."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"
