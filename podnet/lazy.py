"""A package's face imported on first use (PEP 562 module ``__getattr__``).

Packages whose modules run as programs inside pods (``python -m ...``) execute their
``__init__`` first; exporting the face lazily keeps that start-up free of imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_face(package: str, face: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``face`` maps each exported name to the
    submodule defining it."""

    def __getattr__(name: str) -> object:
        if name not in face:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{face[name]}"), name)

    return __getattr__
