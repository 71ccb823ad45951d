"""The container runtime: a pod's containers as processes on one event loop (kubelet, cut down).

The face is imported lazily: ``python -m podnet.dataplane.runtime.probes`` runs inside every
probed pod and executes this file first, so it imports nothing until a name is used.
"""

from __future__ import annotations

from podnet.lazy import lazy_face

TYPE_CHECKING = False
if TYPE_CHECKING:
    from podnet.dataplane.runtime.loop import Loop
    from podnet.dataplane.runtime.pods import Runtime
    from podnet.dataplane.runtime.spawn import Spawner, host_spawner, sandbox_spawner
    from podnet.dataplane.runtime.state import ContainerStatus, PodStatus

__all__ = [
    "ContainerStatus",
    "Loop",
    "PodStatus",
    "Runtime",
    "Spawner",
    "host_spawner",
    "sandbox_spawner",
]
_FACE = {
    "ContainerStatus": "state",
    "Loop": "loop",
    "PodStatus": "state",
    "Runtime": "pods",
    "Spawner": "spawn",
    "host_spawner": "spawn",
    "sandbox_spawner": "spawn",
}

__getattr__ = lazy_face(__name__, _FACE)
