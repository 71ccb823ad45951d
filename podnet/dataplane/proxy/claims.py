"""Ownership of a frontend or NodePort key when several Service ports claim it.

In a valid cluster every ClusterIP . protocol . port and every NodePort belongs to one
Service port (the API server's allocators see to it), so each key has one claimant.
A broken input may have two; then the lowest in
:func:`~podnet.dataplane.proxy.services.rule_order` owns the key, the same rule the
whole-table compiler always used, and the incremental table must move ownership
exactly when that rule says so (:class:`Claims`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

RuleId = tuple[str, int]  # (service key, index in the service's rules sorted by rule_order)
Prec = tuple[str, str, int, str, int]  # rule_order + index: the lowest claimant owns


@dataclass
class Claims:
    """Who claims a frontend (or NodePort) key; the lowest precedence owns it."""

    claims: dict[str, dict[RuleId, Prec]] = field(default_factory=dict)
    owner: dict[str, RuleId] = field(default_factory=dict)

    def add(self, key: str, rid: RuleId, prec: Prec) -> None:
        self.claims.setdefault(key, {})[rid] = prec

    def drop(self, key: str, rid: RuleId) -> None:
        self.claims[key].pop(rid, None)

    def settle(self, keys: Iterable[str], dirty: dict[RuleId, None]) -> None:
        """Recompute the owners of ``keys``; rules that gained or lost one become dirty."""
        for key in keys:
            claims = self.claims.get(key)
            if not claims:
                self.claims.pop(key, None)
                new = None
            elif len(claims) == 1:
                new = next(iter(claims))
            else:
                new = min(claims, key=claims.__getitem__)
            old = self.owner.get(key)
            if new == old:
                continue
            if old is not None:
                dirty[old] = None
            if new is None:
                del self.owner[key]
            else:
                self.owner[key] = new
                dirty[new] = None
