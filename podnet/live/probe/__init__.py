"""``podnet probe``: every planned connection tried for real in the live cluster, judged
against the policy engine's prediction.

The face is imported lazily: ``python -m podnet.live.probe.prober`` runs in pods and
executes this file first, so it imports nothing until a name is used.
"""

from __future__ import annotations

from podnet.lazy import lazy_face

TYPE_CHECKING = False
if TYPE_CHECKING:
    from podnet.live.probe.plan import Planned, plan_probes
    from podnet.live.probe.render import format_table, write_json
    from podnet.live.probe.result import Observation, ProbeReport, disagreements
    from podnet.live.probe.runner import probe_cluster

__all__ = [
    "Observation",
    "Planned",
    "ProbeReport",
    "disagreements",
    "format_table",
    "plan_probes",
    "probe_cluster",
    "write_json",
]
_FACE = {
    "Observation": "result",
    "Planned": "plan",
    "ProbeReport": "result",
    "disagreements": "result",
    "format_table": "render",
    "plan_probes": "plan",
    "probe_cluster": "runner",
    "write_json": "render",
}

__getattr__ = lazy_face(__name__, _FACE)
