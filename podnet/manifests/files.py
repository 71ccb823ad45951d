"""``-f`` arguments -> documents: files, directories (recursive), and ``-`` for stdin.

Like ``kubectl apply -f DIR -R``: a directory contributes every ``.yaml``, ``.yml`` and
``.json`` file below it, in sorted path order so results do not depend on the file
system. A file named explicitly is read whatever its extension, and may be a pipe, as
kubectl reads ``-f <(helm template ...)`` or ``-f /dev/stdin``; below a directory only
regular files are read (a FIFO or device there would block or never end). Each file is
read up to MAX_FILE_BYTES, and a directory that cannot be listed is an error, not "no
files". An ``http://`` or ``https://`` argument is fetched, as kubectl's ``-f URL`` is
(cli-runtime pkg/resource/visitor.go, URLVisitor), and the URL names it in messages.
"""

from __future__ import annotations

import contextlib
import gc
import os
import stat
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from podnet.errors import Location, ManifestError
from podnet.manifests.build import from_documents
from podnet.manifests.yamlsrc import MAX_DOCUMENTS, parse_documents
from podnet.model.objects import Manifests

EXTENSIONS = (".yaml", ".yml", ".json")
STDIN_NAME = "<stdin>"

# Per file (and for stdin): 64 MiB is eight times the 20,000-pod input bench/ loads.
MAX_FILE_BYTES = 64 * 1024 * 1024

URL_SCHEMES = ("http://", "https://")
# kubectl's readHttpWithRetries (cli-runtime pkg/resource/visitor.go): 3 attempts, 1 s
# apart, retrying connection errors and 5xx answers only. kubectl's http.Get has no
# timeout; a stalled server would hang it, so each attempt here has one.
URL_ATTEMPTS = 3
URL_RETRY_WAIT = 1.0
URL_TIMEOUT = 30.0


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
    return from_documents(read_documents(paths, stdin))


def read_documents(paths: Sequence[str], stdin: TextIO | None = None) -> list[tuple[Any, Location]]:
    """The documents of ``paths`` as parsed, each with its file:line, unchecked:
    ``podnet run`` validates them with :func:`from_documents` and then creates them
    through the API as ``kubectl apply`` would, which needs the documents themselves."""
    docs: list[tuple[Any, Location]] = []
    stdin_read = False
    for path in paths:
        if path == "-":
            if stdin_read:
                continue  # kubectl reads stdin once however often "-" is given
            stdin_read = True
            stream = stdin if stdin is not None else sys.stdin
            text = _decode(_read_stdin(stream), STDIN_NAME)
            docs += parse_documents(text, STDIN_NAME, MAX_DOCUMENTS, len(docs))
            continue
        if path.startswith(URL_SCHEMES):
            text = _decode(_fetch(path), path)
            docs += parse_documents(text, path, MAX_DOCUMENTS, len(docs))
            continue
        for file in _files(path):
            named = file == path
            docs += parse_documents(_read(file, named=named), file, MAX_DOCUMENTS, len(docs))
    return docs


def parse_text(text: str, filename: str) -> list[tuple[Any, Location]]:
    """Documents of one YAML/JSON text, each with the line it starts on."""
    return parse_documents(text, filename)


def _files(path: str) -> list[str]:
    if os.path.isdir(path):
        found: list[str] = []
        unreadable: list[OSError] = []
        for root, dirs, names in os.walk(path, onerror=unreadable.append):
            dirs.sort()
            found += [os.path.join(root, n) for n in names if n.endswith(EXTENSIONS)]
        if unreadable:
            # os.walk would skip these silently: a manifest missed is worse than a stop.
            first = unreadable[0]
            more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
            raise ManifestError(
                f"cannot read directory: {first.strerror}{more}",
                location=Location(str(first.filename or path), 1),
            )
        if not found:
            raise ManifestError(
                f"no {', '.join(EXTENSIONS)} files in directory", location=Location(path, 1)
            )
        return sorted(found)
    if not os.path.lexists(path):
        raise ManifestError("the path does not exist", location=Location(path, 1))
    return [path]


def _read(file: str, *, named: bool = False) -> str:
    """The file's text, at most MAX_FILE_BYTES of it.

    Opened with O_NONBLOCK and checked with fstat before any read, so a FIFO or a
    device found below a directory (a ``/dev/zero`` symlink named ``x.yaml``) is
    refused, never read or waited on. A pipe or character device the user ``named``
    is read like stdin: blocking, bounded by MAX_FILE_BYTES. That one is told by stat
    before any open: a non-blocking open of a FIFO lets its writer in, and if the writer
    wrote and closed before the blocking reopen, that reopen waited for a writer forever.
    """
    if named and _is_stream(file):
        return _read_stream(file)
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise ManifestError(f"cannot read file: {e.strerror}", location=Location(file, 1)) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if named and (stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode)):
            return _read_stream(file)
        if not stat.S_ISREG(st.st_mode):
            raise ManifestError(
                f"not a regular file ({_file_type(st.st_mode)}): below a directory podnet "
                "reads only regular files (name a pipe with -f to read it)",
                location=Location(file, 1),
            )
        if st.st_size > MAX_FILE_BYTES:
            raise _too_big(file, st.st_size)
        try:
            data = f.read(MAX_FILE_BYTES + 1)
        except OSError as e:
            raise ManifestError(
                f"cannot read file: {e.strerror}", location=Location(file, 1)
            ) from None
    if len(data) > MAX_FILE_BYTES:  # grew since fstat
        raise _too_big(file, len(data), at_least=True)
    return _decode(data, file)


def _is_stream(file: str) -> bool:
    try:
        mode = os.stat(file).st_mode
    except OSError:
        return False  # the open below reports it
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)


def _read_stream(file: str) -> str:
    """A pipe or device the user named: opened blocking (a FIFO's open waits for its
    writer, as kubectl's does), read until EOF or past MAX_FILE_BYTES."""
    try:
        with open(file, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ManifestError(f"cannot read file: {e.strerror}", location=Location(file, 1)) from None
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(file, len(data), at_least=True)
    return _decode(data, file)


def is_url(path: str) -> bool:
    """Whether an -f argument is a URL to fetch rather than a path."""
    return path.startswith(URL_SCHEMES)


def _fetch(url: str) -> bytes:
    """The body of ``url`` (at most MAX_FILE_BYTES), after up to URL_ATTEMPTS tries.

    A status other than 200 is an error, as kubectl's is ("unable to read URL", with the
    status); only 5xx answers and failed connections are retried. Redirects are followed
    (Go's http.Get and urllib both do)."""
    error = ""
    for attempt in range(URL_ATTEMPTS):
        if attempt:
            time.sleep(URL_RETRY_WAIT)
        try:
            status, reason, data = _get(url)
        except ValueError as e:  # no retry: the URL itself is wrong (http.client.InvalidURL)
            raise ManifestError(f"cannot fetch URL: {e}", location=Location(url, 1)) from None
        except OSError as e:  # URLError (refused, no such host), timeouts, resets
            cause: object = e.reason if isinstance(e, urllib.error.URLError) else e
            if isinstance(cause, TimeoutError):
                error = f"timed out after {URL_TIMEOUT:g}s"
            else:
                error = getattr(cause, "strerror", None) or str(cause)
            continue
        if status == 200:
            assert data is not None
            return data
        error = f"the server answered {status} {reason}".rstrip()
        if not 500 <= status < 600:
            break
    raise ManifestError(f"cannot fetch URL: {error}", location=Location(url, 1))


def _get(url: str) -> tuple[int, str, bytes | None]:
    """One GET: the status, its reason and, for 200, the body (a bigger one is refused)."""
    try:
        response = urllib.request.urlopen(url, timeout=URL_TIMEOUT)
    except urllib.error.HTTPError as e:  # 4xx/5xx: urllib raises, the status is the answer
        with e:
            return e.code, str(e.reason), None
    with response:
        if response.status != 200:  # 2xx other than 200: kubectl refuses these too
            return response.status, str(response.reason), None
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > MAX_FILE_BYTES:
            raise _too_big(url, int(length))
        data: bytes = response.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(url, len(data), at_least=True)
    return 200, "OK", data


def _read_stdin(stream: TextIO) -> bytes:
    """Bytes of stdin (at most MAX_FILE_BYTES + 1), decoded by us as a file's are."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read(MAX_FILE_BYTES + 1)
    else:  # a text stream without bytes underneath (io.StringIO)
        data = stream.read(MAX_FILE_BYTES + 1).encode("utf-8", "surrogatepass")
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(STDIN_NAME, len(data), at_least=True)
    return data


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ManifestError(
            f"not UTF-8 text: {e.reason} (byte 0x{data[e.start]:02x})",
            location=Location(name, line),
        ) from None


def _too_big(name: str, size: int, *, at_least: bool = False) -> ManifestError:
    found = f"more than {MAX_FILE_BYTES:,}" if at_least else f"{size:,}"
    return ManifestError(
        f"too large: {found} bytes; podnet reads at most {MAX_FILE_BYTES:,} "
        "bytes per file (MAX_FILE_BYTES)",
        location=Location(name, 1),
    )


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"
