"""Shell completion: ``podnet __complete`` answers from the argparse parser and the
manifests on the line; the bash, zsh and fish scripts parse, and complete for real in
the shells (bash and zsh driven through a pseudo-terminal with TAB, fish by
``complete -C``)."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.paths import REPO

from podnet.cli.completion import NO_FILES, SHELLS
from podnet.cli.main import main

SEED = str(REPO / "examples/seed/pod-to-service.yaml")
SHOP = str(REPO / "examples/shop/base")
BIN = Path(sys.executable).parent
PODNET = shutil.which("podnet", path=str(BIN))
needs_podnet = pytest.mark.skipif(PODNET is None, reason="podnet not installed in the venv")


def _complete(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[list[str], int]:
    assert main(["__complete", *words]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith(":")
    return lines[:-1], int(lines[-1][1:])


def test_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    words, directive = _complete(capsys, "")
    assert {"analyze", "completion", "exec", "explain", "lint", "run", "up"} <= set(words)
    assert "__complete" not in words and directive == NO_FILES
    assert _complete(capsys, "ex") == (["exec", "explain"], NO_FILES)
    assert _complete(capsys, "--color", "never", "-v", "li") == (["lint"], NO_FILES)


def test_flags_come_from_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    words, _ = _complete(capsys, "run", "--")
    assert {"--filename", "--nodes", "--timeout", "--shell", "--color", "--quiet"} <= set(words)
    assert _complete(capsys, "exec", "web", "--cl")[0] == ["--cluster"]
    assert _complete(capsys, "--col")[0] == ["--color", "--colour"]


def test_choices_as_separate_word_or_after_equals(capsys: pytest.CaptureFixture[str]) -> None:
    assert _complete(capsys, "--color", "")[0] == ["auto", "always", "never"]
    assert _complete(capsys, "lint", "--color=a")[0] == ["--color=auto", "--color=always"]
    assert _complete(capsys, "completion", "")[0] == list(SHELLS)


def test_file_values_leave_it_to_the_shell(capsys: pytest.CaptureFixture[str]) -> None:
    assert _complete(capsys, "lint", "-f", "exa") == ([], 0)
    assert _complete(capsys, "lint", "--filename=exa") == ([], 0)
    assert _complete(capsys, "exec", "web", "--", "ca") == ([], 0)  # the command's words


def test_pod_names_from_the_manifests_on_the_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert _complete(capsys, "explain", "-f", SEED, "") == (["pod-a", "pod-b"], NO_FILES)
    assert _complete(capsys, "explain", "-f", SEED, "pod-a", "pod-") == (
        ["pod-a", "pod-b"],
        NO_FILES,
    )
    assert _complete(capsys, "explain", "-f", SEED, "default/")[0] == [
        "default/pod-a",
        "default/pod-b",
    ]
    assert _complete(capsys, "explain", "", "-f", SEED)[0] == []  # -f after: not known yet
    assert _complete(capsys, "explain", f"--filename={SEED}", "")[0] == ["pod-a", "pod-b"]


def test_namespaces_and_workloads(capsys: pytest.CaptureFixture[str]) -> None:
    namespaces, _ = _complete(capsys, "explain", "-f", SHOP, "-n", "")
    assert "shop" in namespaces
    workloads, _ = _complete(capsys, "explain", "-f", SHOP, "-n", "shop", "deploy/")
    assert "deploy/frontend" in workloads and "deploy/api" in workloads
    pods, _ = _complete(capsys, "explain", "-f", SHOP, "-n", "shop", "frontend-")
    assert pods and all(p.startswith("frontend-") for p in pods)
    shell, _ = _complete(capsys, "run", "-f", SHOP, "--shell=shop/front")
    assert shell and all(s.startswith("--shell=shop/frontend-") for s in shell)


def test_bad_manifests_complete_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("kind: [\n")
    assert _complete(capsys, "explain", "-f", str(tmp_path / "bad.yaml"), "") == ([], NO_FILES)


@pytest.mark.parametrize(
    ("shell", "check"),
    [("bash", ["bash", "-n"]), ("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])],
)
def test_scripts_parse(
    shell: str, check: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which(check[0]) is None:
        pytest.skip(f"{check[0]} is not installed")
    assert main(["completion", shell]) == 0
    path = tmp_path / f"podnet.{shell}"
    path.write_text(capsys.readouterr().out)
    done = subprocess.run([*check, str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def _env(home: Path) -> dict[str, str]:
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "TERM": "dumb", "PS1": "$ "}


def _script(tmp_path: Path, shell: str) -> Path:
    path = tmp_path / f"podnet.{shell}"
    done = subprocess.run(
        [str(PODNET), "completion", shell], capture_output=True, text=True, check=True
    )
    path.write_text(done.stdout)
    return path


@needs_podnet
def test_bash_function_with_comp_words(tmp_path: Path) -> None:
    """bash's own word split (COMP_WORDBREAKS cuts at =) and what the function answers."""
    script = _script(tmp_path, "bash")
    body = f"""
source {script}
complete -p podnet
t() {{ COMP_LINE=$1; COMP_POINT=${{#1}}; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
      _podnet_complete; printf '<%s>' "${{COMPREPLY[@]}}"; echo; }}
t 'podnet --color=al' podnet --color = al
t 'podnet --color=' podnet --color =
t 'podnet ex' podnet ex
t 'podnet explain -f {SEED} pod-a ' podnet explain -f {SEED} pod-a ''
t 'podnet lint -f {REPO}/examples/se' podnet lint -f {REPO}/examples/se
"""
    done = subprocess.run(
        ["bash", "--norc", "-c", body], capture_output=True, text=True, env=_env(tmp_path),
        timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "complete -F _podnet_complete podnet",
        "<always>",
        "<=auto><=always><=never>",  # bash replaces its word "=" with these
        "<exec><explain>",
        "<pod-a><pod-b>",
        f"<{REPO}/examples/seed>",  # the shell's file names (directive 0)
    ]


def _type_in_pty(argv: list[str], env: dict[str, str], setup: str, keys: str, expected: str) -> str:
    """What an interactive shell echoes for ``keys`` (with TAB) typed at the prompt
    after ``setup``, read until ``expected`` shows or 20 s pass."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the shell
        os.chdir(REPO)
        os.execve(argv[0], argv, env)
    out = b""

    def read(until: str, seconds: float) -> None:
        nonlocal out
        end = time.monotonic() + seconds
        while time.monotonic() < end and until.encode() not in out:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    return

    try:
        os.write(fd, f"{setup}; echo READY\n".encode())
        read("READY\r\n", 20)
        out = out[out.index(b"READY\r\n") + 7 :] if b"READY\r\n" in out else b""
        read("$ ", 20)  # the prompt: the line editor reads keys from here on
        out = b""
        os.write(fd, keys.encode())
        read(expected, 20)
        os.write(fd, b"\x15exit\n")
        read("exit", 5)
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    return out.decode(errors="replace")


@needs_podnet
@pytest.mark.parametrize(
    ("keys", "expected"),
    [("podnet --color=al\t", "podnet --color=always "), ("podnet exp\t", "podnet explain ")],
)
def test_bash_completes_on_tab(tmp_path: Path, keys: str, expected: str) -> None:
    script = _script(tmp_path, "bash")
    env = _env(tmp_path) | {"INPUTRC": "/dev/null"}
    bash = ["/bin/bash", "--norc", "--noprofile", "-i"]
    echoed = _type_in_pty(bash, env, f"source {script}", keys, expected)
    assert expected in echoed


@needs_podnet
@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_on_tab(tmp_path: Path) -> None:
    script = _script(tmp_path, "zsh")
    setup = f"PS1='$ '; autoload -U compinit; compinit -u -D; source {script}"
    zsh = shutil.which("zsh")
    assert zsh is not None
    expected = "podnet --color=always "
    echoed = _type_in_pty([zsh, "-f", "-i"], _env(tmp_path), setup, "podnet --color=al\t", expected)
    assert expected in echoed


@needs_podnet
@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes(tmp_path: Path) -> None:
    script = _script(tmp_path, "fish")
    lines = [
        f"source {script}",
        "complete -C 'podnet --color=al'",
        "complete -C 'podnet exp'",
        f"complete -C 'podnet explain -f {SEED} pod-a '",
    ]
    done = subprocess.run(
        ["fish", "--no-config", "-c", "; ".join(lines)],
        capture_output=True, text=True, env=_env(tmp_path), timeout=60, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["--color=always", "explain", "pod-a", "pod-b"]
