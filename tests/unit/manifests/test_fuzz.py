"""A mutation fuzzer over the examples: the loader and the analysis verbs answer every
input with success or a PodnetError, never a traceback (issue 14, "Input").

As the issue's fuzzer did, each input is one of the repository's example files with a
few byte- or line-level mutations (lines dropped, repeated, swapped, re-indented, cut
short; values replaced by hostile ones: huge numbers, aliases, tags, control and
non-UTF-8 bytes), loaded with its unchanged sibling files and run through ``podnet
analyze``, ``lint`` and ``explain`` in-process. Bounded: MAX_EXAMPLES inputs (more with
PODNET_FUZZ_EXAMPLES), a 10 s deadline each (a hang fails the test), and the process's
peak memory (VmHWM, reset per input) may not grow past 1 GiB on any; 150 inputs take
about 2 s, 4,000 about 30 s.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.paths import REPO

from podnet.cli.main import main
from podnet.errors import PodnetError
from podnet.manifests import load_paths

MAX_EXAMPLES = int(os.environ.get("PODNET_FUZZ_EXAMPLES", "150"))
EXAMPLES = sorted(p for p in (REPO / "examples").rglob("*.yaml"))
HOSTILE = [
    b"99999999999999999999999",
    b"100000000",
    b"-1",
    b"1e400",
    b"''",
    b"~",
    b"[]",
    b"{}",
    b"*nowhere",
    b"&a [*a]",
    b"!!binary aGk=",
    b"!!python/object:os.system x",
    b"x" * 300,
    b"../../etc/passwd",
    b"\x00",
    b"\x07bell",
    b"\xff\xfe",
    "é€".encode(),
    b"0x1F",
    b"true",
    b"2001-12-14t21:59:43.10-05:00",
    b"{a: 1, a: 2}",
    b"<<: *x",
]


# Values and transplants most often: they keep the YAML valid and reach the checks.
OPERATIONS = ["drop", "repeat", "swap", "indent", "insert", "cut", *["value", "transplant"] * 3]


@st.composite
def mutate(draw: st.DrawFn, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            lines = [b""]
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(OPERATIONS))
        if op == "transplant":  # another line's value: types confused, YAML still valid
            j = draw(st.integers(0, len(lines) - 1))
            if b": " in lines[i] and b": " in lines[j]:
                lines[i] = lines[i].split(b": ", 1)[0] + b": " + lines[j].split(b": ", 1)[1]
        elif op == "drop":
            del lines[i]
        elif op == "repeat":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = (b"  " + lines[i]) if draw(st.booleans()) else lines[i][2:]
        elif op == "value":
            head = lines[i].split(b": ", 1)[0] if b": " in lines[i] else lines[i] + b":"
            lines[i] = head.rstrip(b":") + b": " + draw(st.sampled_from(HOSTILE))
        elif op == "insert":
            lines.insert(i, draw(st.binary(max_size=40)))
        else:
            lines = lines[: i + 1]
            lines[-1] = lines[-1][: draw(st.integers(0, len(lines[-1])))]
    return b"\n".join(lines)


@cache
def companions(example: Path) -> tuple[tuple[Path, ...], str, str]:
    """The example's sibling files (when the directory loads as a whole, as shop/base
    does; else none) and FROM and TO for ``explain``: its first pod, last Service."""
    others = tuple(p for p in sorted(example.parent.glob("*.yaml")) if p != example)
    try:
        m = load_paths([str(p) for p in (*others, example)])
    except PodnetError:
        others = ()
        m = load_paths([str(example)])
    names = [f"{p.namespace}/{p.name}" for p in m.pods]
    names += [f"{s.namespace}/{s.name}" for s in m.services]
    return (others, names[0], names[-1]) if names else (others, "a", "b")


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="podnet-fuzz-") as d:
        yield Path(d)


def run_verbs(paths: list[str], source: str, target: str) -> None:
    """Every verb in-process: an answer exits 0 or 1 and bad input 1 (analyze) or 2
    (lint, explain: docs/output-contract.md), so anything else that escapes is a
    traceback a user would see."""
    files = [a for p in paths for a in ("-f", p)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for argv in (["analyze", *files], ["lint", *files], ["explain", *files, source, target]):
            assert main(argv) in (0, 1, 2), (argv, err.getvalue())
            assert "Traceback" not in err.getvalue()


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=10_000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_mutated_examples_never_traceback(scratch: Path, data: st.DataObject) -> None:
    example = data.draw(st.sampled_from(EXAMPLES))
    mutated = data.draw(mutate(example.read_bytes()))
    path = scratch / example.name
    path.write_bytes(mutated)
    others, source, target = companions(example)
    paths = [*map(str, others), str(path)]
    before = rss_kib("VmRSS")
    reset_peak()
    with contextlib.suppress(PodnetError):
        load_paths(paths)
    run_verbs(paths, source, target)
    grown = rss_kib("VmHWM") - before
    assert grown < MAX_GROWTH_KIB, f"{example.name}: peak memory grew {grown // 1024} MiB"


MAX_GROWTH_KIB = 1024 * 1024  # the bound: no input may grow memory past 1 GiB


def rss_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (the peak since the last reset) of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (proc(5): writing 5 to clear_refs), so the peak
    measured is this input's; a kernel without it leaves the lifetime peak (stricter)."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


FOUND = [  # inputs the fuzzer found tracebacks with, kept as fixed cases
    "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n"
    "metadata: 99999999999999999999999\nspec:\n  priority: 5\n"
    "  subject: {namespaces: {}}\n",
    "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n"
    "metadata: 7\nspec:\n  tier: Admin\n  priority: 5\n  subject: {namespaces: {}}\n",
]


@pytest.mark.parametrize("text", FOUND)
def test_found_by_the_fuzzer(scratch: Path, text: str) -> None:
    path = scratch / "found.yaml"
    path.write_text(text)
    with pytest.raises(PodnetError, match="metadata"):
        load_paths([str(path)])
    run_verbs([str(path)], "a", "b")
