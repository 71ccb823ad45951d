"""Every verb's --help reads as plain text: no reST roles or double backticks from the
docstrings that serve as descriptions, and the global flags are listed."""

from __future__ import annotations

import argparse
import re

import pytest

from podnet.cli.main import build_parser, main

MARKUP = re.compile(r"(?::[\w-]+)+:`|``")


def _verbs() -> list[str]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


def test_every_verb_is_walked() -> None:
    assert {"analyze", "exec", "explain", "lint", "run", "up"} <= set(_verbs())


@pytest.mark.parametrize("verb", [None, *_verbs()])
def test_help_has_no_rest_markup(verb: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([verb, "--help"] if verb else ["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: podnet")
    assert not MARKUP.search(out), MARKUP.search(out)
    assert "--color WHEN" in out and "--quiet" in out


def test_a_docstring_with_markup_is_cleaned(capsys: pytest.CaptureFixture[str]) -> None:
    """The verbs with reST in their descriptions today (explain's ``FROM`` forms)."""
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    out = capsys.readouterr().out
    assert "FROM: pod, ns/pod, pod/name, deploy/web" in out


def test_only_the_invoked_verb_is_imported() -> None:
    """A global option's value before the verb is not taken for the verb."""
    from podnet.cli.main import _verb_modules

    assert _verb_modules(["--color", "always", "-v", "lint", "-f", "x"]) == ["lint"]
    assert _verb_modules(["--colour=never", "exec", "web"]) == ["exec"]
    assert {"lint", "exec", "completion"} <= set(_verb_modules(["--help"]))
    assert not {"filters", "outputs", "common", "main"} & set(_verb_modules(["--help"]))
