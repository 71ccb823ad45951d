"""The pure decisions under the global flags: colour (NO_COLOR, TERM=dumb, --color),
durations (Go's time.ParseDuration syntax) and help text without reST markup."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podnet.cli import common
from podnet.cli.main import main
from podnet.text import colour_wanted, format_duration, parse_duration, plain


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


TTY = _Tty()
PIPE = io.StringIO()


@pytest.mark.parametrize(
    ("stream", "mode", "env", "expected"),
    [
        (TTY, "auto", {"TERM": "xterm"}, True),
        (PIPE, "auto", {"TERM": "xterm"}, False),
        (TTY, "auto", {"TERM": "xterm", "NO_COLOR": "1"}, False),
        (TTY, "auto", {"TERM": "xterm", "NO_COLOR": "false"}, False),  # any value
        (TTY, "auto", {"TERM": "xterm", "NO_COLOR": ""}, True),  # empty: as unset
        (TTY, "auto", {"TERM": "dumb"}, False),
        (TTY, "auto", {}, True),
        (PIPE, "always", {"NO_COLOR": "1", "TERM": "dumb"}, True),  # the flag wins
        (TTY, "never", {"TERM": "xterm"}, False),
        (object(), "auto", {}, False),  # no isatty at all
    ],
)
def test_colour_wanted(stream: object, mode: str, env: dict[str, str], expected: bool) -> None:
    assert colour_wanted(stream, mode, env) is expected


def test_colour_wanted_rejects_unknown_mode() -> None:
    with pytest.raises(ValueError, match="auto, always, never"):
        colour_wanted(TTY, "sometimes", {})


def test_colour_wanted_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_wanted(TTY)
    monkeypatch.setenv("NO_COLOR", "yes")
    assert not colour_wanted(TTY)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1.5h", 5400.0),
        ("1h0m0s", 3600.0),
        (".5s", 0.5),
        ("300us", 0.0003),
        ("300µs", 0.0003),
        ("10ns", 1e-8),
        ("5", 5.0),  # plain number: seconds, as podnet's flags always took
        ("1.5", 1.5),
        ("0", 0.0),
        ("+2s", 2.0),
        ("-2s", -2.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "1 m", "1m30", "1d", "30sec", "1e3", "inf", "nan", "٣s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (90, "1m30s"), (0.5, "500ms"), (3600, "1h0m0s"), (1.5, "1.5s"), (-2, "-2s")],
)
def test_format_duration_as_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_duration_round_trip_whole_milliseconds(ms: int) -> None:
    seconds = ms / 1000
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(0, 10_000), st.integers(0, 59), st.integers(0, 59), st.integers(0, 999))
def test_duration_parts_add_up(h: int, m: int, s: int, ms: int) -> None:
    text = f"{h}h{m}m{s}s{ms}ms"
    assert parse_duration(text) == (h * 3600_000 + m * 60_000 + s * 1000 + ms) / 1000


@given(st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False))
def test_plain_numbers_are_seconds(value: object) -> None:
    assert parse_duration(str(value)) == float(str(value))


def test_duration_argparse_type() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--timeout", type=common.duration)
    assert p.parse_args(["--timeout", "1m30s"]).timeout == 90.0
    assert p.parse_args(["--timeout", "2"]).timeout == 2.0
    with pytest.raises(argparse.ArgumentTypeError, match="must not be negative"):
        common.duration("-1s")
    with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. 30s, 2m"):
        common.duration("soon")


def test_plain_strips_roles_and_literals() -> None:
    text = "see :mod:`podnet.kube`, :func:`~a.b.build`, :py:class:`X` and ``-f x``"
    assert plain(text) == "see podnet.kube, build, X and -f x"
    assert plain("``kubectl\n   exec``") == "kubectl\n   exec"  # wrapped mid-literal


def test_global_flags_before_or_after_the_verb(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        assert main(["--color=always", "-v", "lint", "--rules"]) == 0
        assert (common.colour_mode, common.verbosity) == ("always", 1)
        assert main(["lint", "--rules", "--color", "never", "--quiet"]) == 0
        assert (common.colour_mode, common.verbosity) == ("never", -1)
        assert main(["--color=always", "lint", "--rules", "-vv"]) == 0
        assert (common.colour_mode, common.verbosity) == ("always", 2)
        assert main(["lint", "--rules"]) == 0
        assert (common.colour_mode, common.verbosity) == ("auto", 0)
    finally:
        common.set_globals()
    capsys.readouterr()


def test_use_colour_follows_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    try:
        common.set_globals(colour="never")
        assert not common.use_colour(TTY)
        common.set_globals(colour="always")
        assert common.use_colour(PIPE)
        common.set_globals()
        assert common.use_colour(TTY) and not common.use_colour(PIPE)
        monkeypatch.setenv("NO_COLOR", "1")
        assert not common.use_colour(TTY)
    finally:
        common.set_globals()


def test_quiet_silences_warnings_and_verbose_shows_progress() -> None:
    err = io.StringIO()
    try:
        common.set_globals(quiet=True)
        common.warn(["quiet-test-message"], err)
        common.progress("step", err)
        assert err.getvalue() == ""
        common.set_globals(verbose=1)
        common.warn(["quiet-test-message"], err)
        common.progress("step", err)
        assert err.getvalue() == "warning: quiet-test-message\nstep\n"
    finally:
        common.set_globals()
        common.reset_warnings()


def test_colour_in_a_verb_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--color=always colours lint's table even into a pipe; NO_COLOR cannot veto it."""
    monkeypatch.setenv("NO_COLOR", "1")
    from support.paths import REPO

    shop = REPO / "examples/shop"
    args = ["lint", "-f", str(shop / "base"), "-f", str(shop / "broken")]
    try:
        main([*args, "--color=always"])
        assert "\033[" in capsys.readouterr().out
        main(args)
        assert "\033[" not in capsys.readouterr().out
    finally:
        common.set_globals()


UNKNOWN_KIND = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"


def test_verbose_and_quiet_in_a_verb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-v: what was loaded and built, on stderr; --quiet: not even the warnings."""
    from support.paths import REPO

    seed = str(REPO / "examples/seed/pod-to-service.yaml")
    (tmp_path / "w.yaml").write_text(UNKNOWN_KIND)
    files = ["-f", seed, "-f", str(tmp_path / "w.yaml")]
    try:
        assert main(["analyze", *files, "-o", "json"]) == 0
        plain = capsys.readouterr()
        assert "warning:" in plain.err and "loaded" not in plain.err
        assert main(["-v", "analyze", *files, "-o", "json"]) == 0
        verbose = capsys.readouterr()
        assert verbose.out == plain.out  # stdout unchanged
        assert "loaded 2 pods, 1 Service, 0 policies\n" in verbose.err
        assert "cluster: 1 node, 3/3 pods placed, 3 Services\n" in verbose.err  # + DNS
        assert main(["analyze", *files, "-o", "json", "--quiet"]) == 0
        quiet = capsys.readouterr()
        assert quiet.out == plain.out and quiet.err == ""
    finally:
        common.set_globals()
