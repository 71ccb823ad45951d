"""kubelet_logs' ``limit_bytes`` and ``since_time`` as kubelet's ReadLogs applies them
(pkg/kubelet/kuberuntime/logs/logs.go): the limit counts the rendered bytes (timestamps
included) and ends a follow; ``since_time`` drops older lines, also followed ones."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from podnet.live import kubelet_logs

T1 = "2026-01-01T10:00:00.000000001Z"
T2 = "2026-01-01T10:00:05.5Z"
T3 = "2026-01-01T10:00:09Z"
LOG = f"{T1} stdout F one\n{T2} stdout F two\n{T3} stderr F three\n".encode()


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _write(tmp_path: Path, data: bytes = LOG) -> Path:
    path = tmp_path / "0.log"
    path.write_bytes(data)
    return path


def _read(path: Path, **kw: object) -> bytes:
    args: dict[str, object] = {"tail": None, "since_seconds": None, "timestamps": False}
    args.update(kw)
    return kubelet_logs.read(path, **args)  # type: ignore[arg-type]


def test_limit_bytes_cuts_the_rendered_output(tmp_path: Path) -> None:
    path = _write(tmp_path)
    assert _read(path, limit_bytes=6) == b"one\ntw"
    assert _read(path, limit_bytes=1000) == b"one\ntwo\nthree\n"
    # timestamps count: the limit ends inside the first line's time
    assert _read(path, limit_bytes=10, timestamps=True) == T1.encode()[:10]
    assert _read(path, limit_bytes=6, tail=1) == b"three\n"[:6]


def test_since_time_drops_older_lines(tmp_path: Path) -> None:
    path = _write(tmp_path)
    assert _read(path, since_time=_epoch("2026-01-01T10:00:05Z")) == b"two\nthree\n"
    assert _read(path, since_time=_epoch(T3)) == b"three\n"  # not before: kept
    assert _read(path, since_time=_epoch("2030-01-01T00:00:00+00:00")) == b""
    assert _read(path, since_time=_epoch("2020-01-01T00:00:00+00:00")) == b"one\ntwo\nthree\n"


def test_follow_stops_at_the_limit_across_chunks(tmp_path: Path) -> None:
    path = _write(tmp_path)
    checks: list[int] = []

    def stopped() -> bool:
        checks.append(1)
        if len(checks) == 1:  # the container writes more, then (never reached) ends
            with path.open("ab") as f:
                f.write(f"{T3} stdout F four\n".encode())
            return False
        return True

    got = list(
        kubelet_logs.follow(
            path, stopped, tail=None, since_seconds=None, timestamps=False, limit_bytes=16
        )
    )
    assert got == [b"one\ntwo\nthree\n", b"fo"]
    assert len(checks) == 1  # ended by the limit, not by stopped()


def test_follow_ends_when_the_first_read_fills_the_limit(tmp_path: Path) -> None:
    path = _write(tmp_path)
    got = list(
        kubelet_logs.follow(
            path, lambda: False, tail=None, since_seconds=None, timestamps=True, limit_bytes=5
        )
    )
    assert got == [T1.encode()[:5]]


def test_follow_filters_new_lines_by_since_time(tmp_path: Path) -> None:
    path = _write(tmp_path)
    checks: list[int] = []

    def stopped() -> bool:
        checks.append(1)
        if len(checks) == 1:
            with path.open("ab") as f:
                f.write(f"{T1} stdout F old\n2026-01-01T10:00:10Z stdout F new\n".encode())
            return False
        return True

    got = list(
        kubelet_logs.follow(
            path,
            stopped,
            tail=None,
            since_seconds=None,
            timestamps=False,
            since_time=_epoch(T3),
        )
    )
    assert got == [b"three\n", b"new\n"]


def test_since_prefers_since_time_and_counts_seconds_back_from_now() -> None:
    assert kubelet_logs.since(None, None) is None
    assert kubelet_logs.since(None, 12.5) == 12.5
    cut = kubelet_logs.since(60, None)
    assert cut is not None and cut > 0
