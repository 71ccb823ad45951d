"""Which pod output ``podnet run`` shows (``--logs``, ``--follow``), in which colour, and
what it counts instead: :class:`Folding` and :class:`PodOutput` over a string buffer."""

from __future__ import annotations

import io

import pytest

from podnet.cli.run import LOG_MODES as CLI_LOG_MODES
from podnet.live.output import PodOutput, Progress
from podnet.live.progress import ProgressBar
from podnet.live.runout.logs import LOG_MODES, Folding, paint, pod_key, shown
from podnet.live.runout.summary import CLIENT, SERVER

ROLES = {"default/a": CLIENT, "default/web": SERVER, "kube-system/dns": SERVER}
GROUPS = {"default/a": "busybox", "default/web": "nginx", "kube-system/dns": "dns"}


def test_cli_and_library_agree_on_the_modes() -> None:
    assert CLI_LOG_MODES == LOG_MODES


@pytest.mark.parametrize(
    ("prefix", "key"), [("default/a", "default/a"), ("default/a/c", "default/a")]
)
def test_pod_key_of_a_prefix(prefix: str, key: str) -> None:
    assert pod_key(prefix) == key


@pytest.mark.parametrize(
    ("mode", "role", "follow", "want"),
    [
        ("all", SERVER, (), True),
        ("clients", CLIENT, (), True),
        ("clients", SERVER, (), False),
        ("clients", SERVER, ("default/x",), True),
        ("none", CLIENT, (), False),
        ("none", SERVER, ("default/x",), True),
    ],
)
def test_shown(mode: str, role: str, follow: tuple[str, ...], want: bool) -> None:
    assert shown(mode, role, "default/x", follow) is want


def test_folding_counts_hidden_lines_per_image_and_times_every_line() -> None:
    f = Folding("clients", ROLES, GROUPS)
    for i in range(3):
        assert not f.admit("default/web", float(i))
    assert f.admit("default/a/c", 5.0)
    assert not f.admit("kube-system/dns", 6.0)
    assert f.hidden() == {"nginx": (1, 3), "dns": (1, 1)}
    assert f.last_output == {"default/web": 2.0, "default/a": 5.0, "kube-system/dns": 6.0}


def test_follow_shows_a_server_in_clients_mode() -> None:
    f = Folding("clients", ROLES, GROUPS, frozenset({"default/web"}))
    assert f.admit("default/web", 0.0)
    assert f.hidden() == {}


def test_colours_are_stable_per_pod_in_order_of_first_output() -> None:
    f = Folding("all", ROLES, GROUPS)
    assert [f.colour_of(k) for k in ("default/web", "default/a", "default/web")] == [0, 1, 0]
    assert paint("default/a", 0) == "\x1b[32m[default/a]\x1b[0m"
    assert paint("x", 1) != paint("y", 0)


def test_pod_output_folds_and_colours() -> None:
    buf = io.StringIO()
    out = PodOutput(buf, colour=True, clock=lambda: 1.0)
    out.folding = Folding("clients", ROLES, GROUPS)
    out.line("default/web", "[notice] start worker processes")
    out.line("default/a", "hello")
    assert buf.getvalue() == "\x1b[32m[default/a]\x1b[0m hello\n"
    assert out.folding.hidden() == {"nginx": (1, 1)}


def test_pod_output_without_colour_is_the_plain_contract() -> None:
    buf = io.StringIO()
    out = PodOutput(buf)
    out.folding = Folding("all", ROLES, GROUPS)
    out.line("default/web", "GET /")
    assert buf.getvalue() == "[default/web] GET /\n"


def test_lines_clear_the_bar_on_the_same_terminal() -> None:
    term = io.StringIO()
    bar = ProgressBar(term, enabled=True, clock=lambda: 0.0)
    bar.start("podnet: pods", 4)
    out, progress = PodOutput(term, bar=bar), Progress(term, bar)
    out.line("default/a", "hello")
    progress("done")
    text = term.getvalue()
    # the bar's line is erased before the first line; redrawn only MIN_REDRAW later
    assert text.endswith("0/4 0.0s\r\x1b[K[default/a] hello\npodnet: done\n"), text
