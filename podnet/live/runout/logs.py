"""Which pod output ``podnet run`` shows, and in which colour (pure bookkeeping).

A 50-pod run once printed 378 lines, 325 of them nginx ``[notice]`` start-up lines, for
one useful client line. So by default (``--logs clients``) only the pods that run to
completion are shown (:func:`~podnet.live.runout.summary.role`); server pods' lines are
counted per image and summed up at the end. ``--logs all`` shows everything, ``none``
nothing; ``--follow POD`` shows that pod whatever the mode. On a terminal each pod's
prefix gets a colour of its own, as ``docker compose logs`` colours service names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from podnet.live.runout.summary import CLIENT

LOG_MODES = ("all", "clients", "none")
# ANSI foreground colours readable on dark and light backgrounds (no black, white, blue)
_PALETTE = (32, 33, 35, 36, 92, 93, 95, 96, 31, 91)


def pod_key(prefix: str) -> str:
    """``ns/pod`` of an output prefix ``ns/pod`` or ``ns/pod/container``."""
    return "/".join(prefix.split("/", 2)[:2])


def shown(mode: str, role: str, key: str, follow: Iterable[str] = ()) -> bool:
    if key in follow:
        return True
    return mode == "all" or (mode == "clients" and role == CLIENT)


def paint(prefix: str, index: int) -> str:
    """``[prefix]`` in the ``index``-th colour of the palette (reset after)."""
    return f"\x1b[{_PALETTE[index % len(_PALETTE)]}m[{prefix}]\x1b[0m"


@dataclass
class Folding:
    """Decides line by line and counts what it folds away; ``now`` is the caller's
    clock, so this stays a pure function of its inputs."""

    mode: str
    roles: Mapping[str, str]  # pod key -> client | server
    groups: Mapping[str, str]  # pod key -> image group (summary.image_group)
    follow: frozenset[str] = frozenset()
    hidden_lines: dict[str, int] = field(default_factory=dict)  # pod key -> lines folded
    last_output: dict[str, float] = field(default_factory=dict)  # pod key -> time of last line
    _colours: dict[str, int] = field(default_factory=dict)

    def admit(self, prefix: str, now: float) -> bool:
        """Record a line of ``prefix``'s output; whether to show it."""
        key = pod_key(prefix)
        self.last_output[key] = now
        if shown(self.mode, self.roles.get(key, CLIENT), key, self.follow):
            return True
        self.hidden_lines[key] = self.hidden_lines.get(key, 0) + 1
        return False

    def colour_of(self, key: str) -> int:
        """A stable colour index per pod, in order of first output."""
        return self._colours.setdefault(key, len(self._colours))

    def hidden(self) -> dict[str, tuple[int, int]]:
        """Image group -> (pods with hidden lines, lines hidden)."""
        out: dict[str, tuple[int, int]] = {}
        for key, count in list(self.hidden_lines.items()):  # lines may still arrive
            group = self.groups.get(key, "other")
            pods, lines = out.get(group, (0, 0))
            out[group] = (pods + 1, lines + count)
        return out
