"""``kubectl logs``: read a container's CRI-format log files.

The runtime writes one file per run of a container, ``<dir>/<restartCount>.log``, each
line ``<RFC3339Nano> stdout F <text>``
(:class:`~podnet.dataplane.runtime.logs.LogBuffer`). As kubelet's ``ReadLogs``
(pkg/kubelet/kuberuntime/logs/logs.go): ``previous`` reads the run before the current
one, ``since_seconds`` or ``since_time`` (an epoch time; the API server allows one of
the two) drops older lines, ``tail`` keeps the last N, ``timestamps`` prefixes each line
with its time, ``limit_bytes`` caps the bytes written (the rendered output, timestamps
included, also while following: kubelet's ``logWriter.remain``); ``follow`` keeps
reading the current run's file as it grows until ``stopped()`` says the run is over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from podnet.apiserver.errors import bad_request
from podnet.model.objects import Pod

POLL = 0.1  # seconds between looks at a followed file


def container_dir(
    log_dir: Path, pod: Pod, container: str | None, ephemeral: tuple[str, ...] = ()
) -> Path:
    """The directory of ``container`` (default: the pod's only app container; an
    ``ephemeral`` one by name only); the API server's errors for a missing or ambiguous
    name (kubectl prints them)."""
    if container is None:
        if len(pod.containers) != 1:
            names = " ".join(c.name for c in pod.containers)
            raise bad_request(
                f"a container name must be specified for pod {pod.name}, choose one of: [{names}]"
            )
        container = pod.containers[0].name
    valid = {c.name for c in (*pod.init_containers, *pod.containers)} | set(ephemeral)
    if container not in valid:
        raise bad_request(f"container {container} is not valid for pod {pod.name}")
    return log_dir / container


def newest(container_dir: Path) -> Path | None:
    found = runs(container_dir)
    return found[-1] if found else None


def runs(container_dir: Path) -> list[Path]:
    """The container's log files, oldest run first."""
    found = [p for p in container_dir.glob("*.log") if p.stem.isdigit()]
    return sorted(found, key=lambda p: int(p.stem))


def pick(container_dir: Path, pod: str, previous: bool) -> Path:
    """The current run's file, or the previous run's (kubelet's errors when absent)."""
    files = runs(container_dir) if container_dir.is_dir() else []
    want = 2 if previous else 1
    if len(files) >= want:
        return files[-want]
    name = container_dir.name
    if previous:
        raise bad_request(f'previous terminated container "{name}" in pod "{pod}" not found')
    raise bad_request(f'container "{name}" in pod "{pod}" is waiting to start: ContainerCreating')


def _parse_time(stamp: bytes) -> float:
    text = stamp.decode()
    whole, _, frac = text.rstrip("Z").partition(".")
    base = datetime.fromisoformat(whole + "+00:00").timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def render(line: bytes, timestamps: bool) -> bytes:
    """One CRI line as kubectl shows it (``<time> <text>`` with timestamps)."""
    stamp, _, rest = line.partition(b" ")
    _stream, _, rest = rest.partition(b" ")
    _tag, _, text = rest.partition(b" ")
    return stamp + b" " + text if timestamps else text


def read(
    path: Path,
    *,
    tail: int | None,
    since_seconds: int | None,
    timestamps: bool,
    since_time: float | None = None,
    limit_bytes: int | None = None,
) -> bytes:
    cut = since(since_seconds, since_time)
    return _select(path.read_bytes(), tail, cut, timestamps)[:limit_bytes]


def since(since_seconds: int | None, since_time: float | None) -> float | None:
    """The epoch time older lines are dropped before (kubelet's ``opts.since``:
    ``sinceSeconds`` counts back from now, ``sinceTime`` is taken as is)."""
    if since_time is not None:
        return since_time
    return None if since_seconds is None else time.time() - since_seconds


def _keep(lines: list[bytes], cut: float | None) -> list[bytes]:
    """Lines not older than ``cut`` (logs.go skips ``msg.timestamp.Before(since)``)."""
    if cut is None:
        return lines
    return [ln for ln in lines if _parse_time(ln.split(b" ", 1)[0]) >= cut]


def _select(data: bytes, tail: int | None, cut: float | None, timestamps: bool) -> bytes:
    lines = _keep(data.splitlines(keepends=True), cut)
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return b"".join(render(ln, timestamps) for ln in lines)


def follow(
    path: Path,
    stopped: Callable[[], bool],
    *,
    tail: int | None,
    since_seconds: int | None,
    timestamps: bool,
    started: Callable[[], None] | None = None,
    since_time: float | None = None,
    limit_bytes: int | None = None,
) -> Iterator[bytes]:
    """What :func:`read` gives, then each new complete line as it is written, until
    ``stopped()`` (checked every :data:`POLL` seconds) and the file is read to its end,
    or ``limit_bytes`` were given (kubelet ends a follow on ``errMaximumWrite``).
    ``started()`` is called once the file was first read: what comes later is followed
    (attach -i sends stdin only then, so no reply is lost to ``tail=0``)."""
    cut = since(since_seconds, since_time)
    remain = limit_bytes
    with path.open("rb") as f:
        data = f.read()
        if started is not None:
            started()
        complete = data[: data.rfind(b"\n") + 1]  # a line being written waits its turn
        out = _select(complete, tail, cut, timestamps)
        f.seek(len(complete))
        partial = b""
        while True:
            if out:
                if remain is not None:
                    out = out[:remain]
                    remain -= len(out)
                yield out
                out = b""
            if remain is not None and remain <= 0:
                return
            chunk = f.read()
            if chunk:
                head, sep, partial = (partial + chunk).rpartition(b"\n")
                if sep:
                    lines = _keep((head + sep).splitlines(keepends=True), cut)
                    out = b"".join(render(ln, timestamps) for ln in lines)
                continue
            if stopped():
                return
            time.sleep(POLL)
