"""``podnet run`` refuses bad input before anything starts: one clean error line, exit 1.

In-process through the CLI's ``main`` (no kernel needed): the sandbox is replaced by
one that fails the test if it is ever entered, which proves "before anything starts".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from podnet.cli.main import main
from podnet.dataplane.images.registry import default_registry
from podnet.dataplane.sandbox.namespaces import Sandbox
from podnet.errors import ImageError
from podnet.live.cluster import check_images
from podnet.manifests import load_paths

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: x}
spec:
  initContainers: [{name: setup, image: INIT}]
  containers: [{name: c, image: APP}]
"""


@pytest.fixture(autouse=True)
def no_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(cls: type[Sandbox]) -> Sandbox:
        raise AssertionError("the sandbox must not be entered for bad input")

    monkeypatch.setattr(Sandbox, "enter", classmethod(refuse))


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("init", "app", "culprit"),
    [
        ("busybox", "redis:7", "container 'c'"),
        ("docker.io/library/postgres:16", "nginx", "container 'setup'"),
    ],
)
def test_unknown_image_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], init: str, app: str, culprit: str
) -> None:
    path = _write(tmp_path, POD.replace("INIT", init).replace("APP", app))
    assert main(["run", "-f", path]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: pod default/x, {culprit}: unknown image"), err
    assert "Traceback" not in err
    assert "cluster up" not in err


def test_known_images_pass_the_check(tmp_path: Path) -> None:
    path = _write(tmp_path, POD.replace("INIT", "busybox:1.36").replace("APP", "nginx"))
    check_images(default_registry(tmp_path / "images"), load_paths([path]).pods)


def test_check_images_raises_the_image_error_type(tmp_path: Path) -> None:
    path = _write(tmp_path, POD.replace("INIT", "busybox").replace("APP", "mysql"))
    with pytest.raises(ImageError):
        check_images(default_registry(tmp_path / "images"), load_paths([path]).pods)


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n",  # YAML syntax
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: []}\n",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 0}]}\n",
    ],
)
def test_bad_manifests_are_one_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    assert main(["run", "-f", _write(tmp_path, text)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    assert "Traceback" not in err


def test_missing_file_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-f", str(tmp_path / "nope.yaml")]) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_shell_with_manifests_on_stdin_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "-f", "-", "--shell", "pod-a"])
    assert exc.value.code == 2
    assert "--shell needs stdin" in capsys.readouterr().err


def test_records_env_matches_the_dns_server() -> None:
    from podnet.dataplane.dns import main as dnsserver_main
    from podnet.live import cluster

    assert cluster.RECORDS_ENV == dnsserver_main.RECORDS_ENV
