"""``-f`` arguments -> documents: files, directories (recursive), and ``-`` for stdin.

Like ``kubectl apply -f DIR -R``: a directory contributes every ``.yaml``, ``.yml`` and
``.json`` file below it, in sorted path order so results do not depend on the file
system. A file named explicitly is read whatever its extension.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from podnet.errors import Location, ManifestError
from podnet.manifests.build import from_documents
from podnet.manifests.yamlsrc import parse_documents
from podnet.model.objects import Manifests

EXTENSIONS = (".yaml", ".yml", ".json")
STDIN_NAME = "<stdin>"


def load_paths(paths: Sequence[str], stdin: TextIO | None = None) -> Manifests:
    """Load, validate and default every manifest named by ``paths``."""
    with _gc_paused():
        return _load(paths, stdin)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while loading: YAML node trees are millions of young objects
    with no cycles, and the collector re-scanning them cost a third of the load time of
    5,000 pods. Reference counting still frees everything; the previous state returns."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load(paths: Sequence[str], stdin: TextIO | None) -> Manifests:
    docs: list[tuple[Any, Location]] = []
    stdin_read = False
    for path in paths:
        if path == "-":
            if stdin_read:
                continue  # kubectl reads stdin once however often "-" is given
            stdin_read = True
            stream = stdin if stdin is not None else sys.stdin
            docs += parse_text(stream.read(), STDIN_NAME)
            continue
        for file in _files(path):
            docs += parse_text(_read(file), file)
    return from_documents(docs)


def parse_text(text: str, filename: str) -> list[tuple[Any, Location]]:
    """Documents of one YAML/JSON text, each with the line it starts on."""
    return parse_documents(text, filename)


def _files(path: str) -> list[str]:
    if os.path.isdir(path):
        found = []
        for root, dirs, names in os.walk(path):
            dirs.sort()
            found += [os.path.join(root, n) for n in names if n.endswith(EXTENSIONS)]
        if not found:
            raise ManifestError(
                f"no {', '.join(EXTENSIONS)} files in directory", location=Location(path, 1)
            )
        return sorted(found)
    if not os.path.exists(path):
        raise ManifestError("the path does not exist", location=Location(path, 1))
    return [path]


def _read(file: str) -> str:
    try:
        with open(file, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise ManifestError(f"not UTF-8 text: {e.reason}", location=Location(file, 1)) from None
    except OSError as e:
        raise ManifestError(f"cannot read file: {e.strerror}", location=Location(file, 1)) from None
