"""The cluster's namespaces: nodes and pods as network namespaces held by processes podnet owns.

The face is imported lazily (``python -m podnet.dataplane.sandbox.driver`` executes this
file first, and the pure modules, :mod:`.links` and :mod:`.podfiles`, need none of it).
"""

from __future__ import annotations

from podnet.lazy import lazy_face

TYPE_CHECKING = False
if TYPE_CHECKING:
    from podnet.dataplane.sandbox.namespaces import Sandbox
    from podnet.dataplane.sandbox.podfiles import PodFiles, pod_files

__all__ = ["PodFiles", "Sandbox", "pod_files"]
_FACE = {"PodFiles": "podfiles", "Sandbox": "namespaces", "pod_files": "podfiles"}

__getattr__ = lazy_face(__name__, _FACE)
