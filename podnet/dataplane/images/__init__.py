"""Container images mapped to programs already on this machine (podnet pulls nothing).

The face is imported lazily: ``python -m podnet.dataplane.images.agnhost`` runs in pods and
executes this file first, so it imports nothing until a name is used.
"""

from __future__ import annotations

from podnet.lazy import lazy_face

TYPE_CHECKING = False
if TYPE_CHECKING:
    from podnet.dataplane.images.image import Image, PrepareContext, normalize
    from podnet.dataplane.images.registry import ImageRegistry, default_registry

__all__ = ["Image", "ImageRegistry", "PrepareContext", "default_registry", "normalize"]
_FACE = {
    "Image": "image",
    "ImageRegistry": "registry",
    "PrepareContext": "image",
    "default_registry": "registry",
    "normalize": "image",
}

__getattr__ = lazy_face(__name__, _FACE)
