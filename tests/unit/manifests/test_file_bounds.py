"""What ``-f`` reads is bounded: regular files only, MAX_FILE_BYTES each, stdin decoded as
a file is, and a directory that cannot be listed is reported (issue 14, "Input")."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.paths import REPO

from podnet.errors import ManifestError
from podnet.manifests import files, load_paths

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
    - name: c
      image: x
"""


def within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a daemon thread; the error it raised, or fail if it blocks."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as e:  # handed to the test
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still blocked after {seconds} s"
    return outcome[0]


def test_device_symlink_in_a_directory_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(POD)
    (tmp_path / "zero.yaml").symlink_to("/dev/null")  # /dev/zero would never end
    err = within(5, lambda: load_paths([str(tmp_path)]))
    assert isinstance(err, ManifestError)
    assert "not a regular file (a character device)" in str(err)
    assert err.location is not None and err.location.file.endswith("zero.yaml")


def test_fifo_in_a_directory_is_refused_not_waited_on(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(POD)
    os.mkfifo(tmp_path / "pipe.yaml")
    err = within(5, lambda: load_paths([str(tmp_path)]))
    assert isinstance(err, ManifestError)
    assert "not a regular file (a FIFO)" in str(err)


def test_a_named_pipe_is_read_as_kubectl_reads_it(tmp_path: Path) -> None:
    """``-f <(helm template ...)``: a pipe the user names is read, like stdin."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    def write() -> None:
        with open(pipe, "w") as w:
            w.write(POD)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    result = within(5, lambda: load_paths([str(pipe)]))
    writer.join(5)
    assert result is None


def test_a_named_device_is_read_but_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1000)
    err = within(5, lambda: load_paths(["/dev/zero"]))
    assert isinstance(err, ManifestError) and "too large: more than 1,000 bytes" in str(err)


def test_file_size_is_capped_and_the_error_says_both_sizes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 2000 + "\n")
    with pytest.raises(ManifestError, match="2,004 bytes; podnet reads at most 1,000"):
        load_paths([str(path)])
    with pytest.raises(ManifestError, match="more than 1,000 bytes") as e:
        load_paths(["-"], stdin=io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert e.value.location is not None and e.value.location.file == "<stdin>"


def test_document_count_is_capped_across_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_DOCUMENTS", 3)
    (tmp_path / "a.yaml").write_text("a: 1\n---\nb: 2\n")
    (tmp_path / "b.yaml").write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(ManifestError, match="more than 3 ") as e:
        load_paths([str(tmp_path)])
    assert e.value.location is not None and e.value.location.file.endswith("b.yaml")


@pytest.mark.parametrize(
    ("data", "line"),
    [(b"a: 1\nb: \xff\xfe\n", 2), (b"apiVersion: v1\n\n\nkind: \xc3(\n", 4)],
)
def test_non_utf8_stdin_is_a_clean_error_on_its_line(data: bytes, line: int) -> None:
    with pytest.raises(ManifestError, match="not UTF-8") as e:
        load_paths(["-"], stdin=io.TextIOWrapper(io.BytesIO(data)))
    assert e.value.location is not None
    assert (e.value.location.file, e.value.location.line) == ("<stdin>", line)


def test_non_utf8_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"a: 1\nb: 2\nc: \xff\n")
    with pytest.raises(ManifestError, match="not UTF-8") as e:
        load_paths([str(path)])
    assert e.value.location is not None and e.value.location.line == 3


def test_nul_on_stdin_is_reported_on_its_line() -> None:
    with pytest.raises(ManifestError, match="#x0000") as e:
        load_paths(["-"], stdin=io.TextIOWrapper(io.BytesIO(b"a: 1\nb: 2\nc: x\x00\n")))
    assert e.value.location is not None and e.value.location.line == 3


@pytest.mark.parametrize(
    ("target", "message"),
    [("nowhere", "No such file or directory"), ("loop.yaml", "Too many levels of symbolic")],
)
def test_a_file_that_cannot_be_opened_is_reported(
    tmp_path: Path, target: str, message: str
) -> None:
    (tmp_path / "pod.yaml").write_text(POD)
    (tmp_path / "loop.yaml").symlink_to(tmp_path / target)  # dangling, or a loop
    with pytest.raises(ManifestError, match=f"cannot read file: {message}") as e:
        load_paths([str(tmp_path)])
    assert e.value.location is not None and e.value.location.file.endswith("loop.yaml")


@pytest.fixture
def public_tree() -> Iterator[Path]:
    """A tree an unprivileged user can reach (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="podnet-unreadable-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        for d in root.rglob("*"):
            if d.is_dir():
                d.chmod(0o755)
        shutil.rmtree(root)


def load_as_nobody(path: Path) -> subprocess.CompletedProcess[str]:
    """``load_paths`` in a child that dropped root (root reads any directory)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to make a directory unreadable")
    code = (
        "import sys\nfrom podnet.errors import ManifestError\n"
        "from podnet.manifests import load_paths\n"
        "try:\n    print(len(load_paths(sys.argv[1:]).pods))\n"
        "except ManifestError as e:\n    print(e)\n"
    )
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    return subprocess.run(
        [*argv, sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=True,
    )


def test_unreadable_subdirectory_is_reported_not_skipped(public_tree: Path) -> None:
    (public_tree / "ok").mkdir()
    (public_tree / "ok" / "pod.yaml").write_text(POD)
    (public_tree / "ok").chmod(0o755)
    (public_tree / "ok" / "pod.yaml").chmod(0o644)
    (public_tree / "secret").mkdir()
    (public_tree / "secret").chmod(0o000)
    out = load_as_nobody(public_tree).stdout
    assert f"{public_tree / 'secret'}:1: cannot read directory: Permission denied" in out


def test_unreadable_directory_is_not_no_manifests(public_tree: Path) -> None:
    (public_tree / "d").mkdir()
    (public_tree / "d").chmod(0o311)  # may enter, may not list
    out = load_as_nobody(public_tree / "d").stdout
    assert "cannot read directory: Permission denied" in out
    assert "files in directory" not in out
