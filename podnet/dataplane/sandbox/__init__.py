"""The cluster's namespaces: nodes and pods as network namespaces held by processes podnet owns.

The face is imported lazily (``python -m podnet.dataplane.sandbox.driver`` executes this
file first, and the pure modules, :mod:`.links` and :mod:`.podfiles`, need none of it).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from podnet.dataplane.sandbox.namespaces import Sandbox
    from podnet.dataplane.sandbox.podfiles import PodFiles, pod_files

__all__ = ["PodFiles", "Sandbox", "pod_files"]
_FACE = {"PodFiles": "podfiles", "Sandbox": "namespaces", "pod_files": "podfiles"}


def __getattr__(name: str) -> object:
    if name not in _FACE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_FACE[name]}"), name)
