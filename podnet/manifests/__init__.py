"""Manifests (YAML) -> objects (typed, validated, defaulted).

``load_paths`` reads ``-f`` arguments (files, directories, ``-``); ``from_documents``
takes documents already parsed into dicts (generators, tests, the conformance runner).
Both return :class:`podnet.model.objects.Manifests` or raise
:class:`podnet.errors.ManifestError`.
"""

from podnet.manifests.build import from_documents
from podnet.manifests.files import load_paths, parse_text

__all__ = ["from_documents", "load_paths", "parse_text"]
