"""Real images through the shared cache: built offline, loaded, pulled, resolved.

The test image is made here with no network, as a user would make one: ``umoci init``
/ ``new`` / ``unpack``, Debian's static ``/bin/busybox`` copied in, ``umoci repack`` and
``umoci config`` for its ENTRYPOINT/CMD/Env/WorkingDir/User, then ``skopeo copy`` to a
``docker-archive`` (what ``docker save`` writes) and an ``oci-archive``. A registry is
Debian's ``docker-registry`` on 127.0.0.1 with a config written here, started and
stopped by pid; the image is pushed to it with skopeo. Every test uses its own cache
directory (``PODNET_IMAGE_CACHE``), never the machine's.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.paths import PYTHONPATH

from podnet.cli.main import main
from podnet.dataplane.images.image import ImagePullError
from podnet.dataplane.images.registry import default_registry
from podnet.dataplane.images.store import ImageStore
from podnet.errors import ImageError

pytestmark = pytest.mark.kernel

NAME = "localhost/podnet-test/bb:1.0"
BUSYBOX = Path("/bin/busybox")


def _need(*tools: str) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if not BUSYBOX.is_file():
        pytest.skip("no /bin/busybox (busybox-static)")


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout


@dataclass(frozen=True)
class Built:
    layout: Path  # OCI layout, tag 1.0
    docker_archive: Path
    oci_archive: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The busybox image, made offline with umoci and skopeo."""
    _need("umoci", "skopeo")
    tmp = tmp_path_factory.mktemp("image-build")
    layout, bundle = tmp / "layout", tmp / "bundle"
    _run("umoci", "init", "--layout", str(layout))
    _run("umoci", "new", "--image", f"{layout}:1.0")
    _run("umoci", "unpack", "--rootless", "--image", f"{layout}:1.0", str(bundle))
    bindir = bundle / "rootfs" / "bin"
    bindir.mkdir(parents=True)
    shutil.copy2(BUSYBOX, bindir / "busybox")
    for applet in ("sh", "echo", "cat"):
        (bindir / applet).symlink_to("busybox")
    (bundle / "rootfs" / "srv").mkdir()
    (bundle / "rootfs" / "srv" / "greeting").write_text("hello from the image\n")
    _run("umoci", "repack", "--image", f"{layout}:1.0", str(bundle))
    _run(
        "umoci", "config", "--image", f"{layout}:1.0",
        "--config.entrypoint", "/bin/busybox", "--config.entrypoint", "cat",
        "--config.cmd", "/srv/greeting",
        "--config.env", "GREETING=hello", "--config.env", "PATH=/bin",
        "--config.workingdir", "/srv", "--config.user", "1000:1000",
    )  # fmt: skip
    docker_archive, oci_archive = tmp / "bb-docker.tar", tmp / "bb-oci.tar"
    _run("skopeo", "copy", "-q", f"oci:{layout}:1.0", f"docker-archive:{docker_archive}:{NAME}")
    _run("skopeo", "copy", "-q", f"oci:{layout}:1.0", f"oci-archive:{oci_archive}:{NAME}")
    return Built(layout, docker_archive, oci_archive)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("PODNET_IMAGE_CACHE", str(root))
    return root


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_load_docker_archive_then_ls_and_resolve(
    built: Built, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _cli(capsys, "image", "load", str(built.docker_archive))
    assert out == f"Loaded image: {NAME}\n"
    table = _cli(capsys, "image", "ls").splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"]
    row = table[1].split()
    assert row[:2] == ["localhost/podnet-test/bb", "1.0"] and len(row[2]) == 13
    listed = json.loads(_cli(capsys, "image", "ls", "-o", "json"))["images"]
    assert [i["repoTags"] for i in listed] == [[NAME]]
    rootfs = Path(listed[0]["rootfs"])
    inspected = json.loads(_cli(capsys, "image", "inspect", listed[0]["id"][7:19]))
    assert inspected["repoTags"] == [NAME] and inspected["rootfs"] == str(rootfs)
    assert inspected["config"]["config"]["Entrypoint"] == ["/bin/busybox", "cat"]
    assert _cli(capsys, "image", "ls", "-q") == listed[0]["id"] + "\n"
    assert (rootfs / "bin" / "busybox").read_bytes() == BUSYBOX.read_bytes()
    assert os.access(rootfs / "bin" / "busybox", os.X_OK)
    assert (rootfs / "srv" / "greeting").read_text() == "hello from the image\n"

    image = default_registry(tmp_path / "state").resolve(NAME)
    assert image.rootfs == rootfs
    assert image.entrypoint == ("/bin/busybox", "cat")
    assert image.cmd == ("/srv/greeting",)
    assert ("GREETING", "hello") in image.env and dict(image.env)["PATH"] == "/bin"
    assert (image.workdir, image.user) == ("/srv", "1000:1000")
    assert image.digest is not None and image.digest.startswith("sha256:")
    assert image.digest == listed[0]["id"]
    if os.geteuid() == 0:  # the unpacked tree is a working root: its entrypoint runs
        argv = [*image.entrypoint, *image.cmd]
        ran = subprocess.run(["chroot", str(rootfs), *argv], capture_output=True, text=True)
        assert ran.stdout == "hello from the image\n", ran.stderr


def test_cache_wins_over_the_builtin_of_the_same_name(
    built: Built, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = default_registry(tmp_path / "state")
    assert registry.resolve("busybox:1.36").rootfs is None  # the built-in
    _cli(capsys, "image", "load", "--name", "busybox:1.36", str(built.oci_archive))
    assert registry.resolve("busybox:1.36").rootfs is not None  # same registry object
    assert registry.resolve("docker.io/library/busybox:1.36").entrypoint[0] == "/bin/busybox"
    assert registry.resolve("busybox").rootfs is None  # :latest was not loaded
    assert (
        _cli(capsys, "image", "rm", "busybox:1.36") == "Deleted: docker.io/library/busybox:1.36\n"
    )
    assert registry.resolve("busybox:1.36").rootfs is None
    assert not list((cache / "images").iterdir())  # no name left: its files are gone


def test_second_load_is_a_cache_hit(
    built: Built, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second cluster (another store object, same root) unpacks nothing."""
    from podnet.dataplane.images.sources import sources

    src = sources(built.docker_archive)[0]
    t0 = time.monotonic()
    first = ImageStore(cache).import_image(src.transport, [NAME])
    t1 = time.monotonic()
    meta = first.image.path / "meta.json"
    before = (meta.stat().st_mtime_ns, (first.image.rootfs / "bin" / "busybox").stat().st_ino)
    second = ImageStore(cache).import_image(src.transport, [NAME, "other/name:2"])
    t2 = time.monotonic()
    after = (meta.stat().st_mtime_ns, (second.image.rootfs / "bin" / "busybox").stat().st_ino)
    assert (first.unpacked, second.unpacked) == (True, False)
    assert before == after and second.image.id == first.image.id
    assert not list((cache / "tmp").iterdir())
    assert [d.name for d in (cache / "images").iterdir()] == [first.image.id[7:]]
    print(f"first load {t1 - t0:.3f}s, second {t2 - t1:.3f}s")
    # the oci-archive of the same image has the same config: a hit as well
    assert not ImageStore(cache).import_image(sources(built.oci_archive)[0].transport, []).unpacked


def test_concurrent_loads_unpack_once(built: Built, cache: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from podnet.dataplane.images.store import ImageStore\n"
        "from podnet.dataplane.images.sources import sources\n"
        "src = sources(Path(sys.argv[1]))[0]\n"
        "print(ImageStore(Path(sys.argv[2])).import_image(src.transport, [sys.argv[3]]).unpacked)\n"
    )
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(built.docker_archive), str(cache), f"c/n:{i}"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(4)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert sorted(outs) == ["False", "False", "False", "True"]
    assert len(list((cache / "images").iterdir())) == 1
    assert sorted(ImageStore(cache).refs()) == [f"docker.io/c/n:{i}" for i in range(4)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def registry_port(tmp_path: Path) -> Iterator[int]:
    """Debian's docker-registry on 127.0.0.1, stopped by its pid at the end."""
    _need("docker-registry")
    port = _free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'registry'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    log = (tmp_path / "registry.log").open("w")
    proc = subprocess.Popen(
        [shutil.which("docker-registry") or "", "serve", str(config)], stdout=log, stderr=log
    )
    try:
        end = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > end or proc.poll() is not None:
                    pytest.fail(
                        f"registry did not start: {(tmp_path / 'registry.log').read_text()}"
                    )
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_pull_from_a_local_registry(
    built: Built,
    cache: Path,
    registry_port: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = f"127.0.0.1:{registry_port}"
    for tag in ("1.0", "2.0"):
        _run(
            "skopeo", "copy", "-q", "--dest-tls-verify=false",
            f"oci:{built.layout}:1.0", f"docker://{host}/podnet-test/bb:{tag}",
        )  # fmt: skip
    out = _cli(capsys, "image", "pull", f"{host}/podnet-test/bb:1.0")
    assert out.startswith("Image is up to date for sha256:")
    assert f"{host}/podnet-test/bb" in _cli(capsys, "image", "ls")
    (listed,) = json.loads(_cli(capsys, "image", "ls", "-o", "json"))["images"]
    (repo_digest,) = listed["repoDigests"]
    assert repo_digest.startswith(f"{host}/podnet-test/bb@sha256:")

    registry = default_registry(tmp_path / "state")
    pulled = registry.resolve(f"{host}/podnet-test/bb:1.0")
    assert pulled.rootfs is not None and pulled.entrypoint == ("/bin/busybox", "cat")
    # IfNotPresent (a tag other than latest) on a name not yet cached: pulled on resolve
    assert registry.resolve(f"{host}/podnet-test/bb:2.0").digest == pulled.digest
    digest = repo_digest.split("@")[1]
    assert ImageStore(cache).refs()[f"{host}/podnet-test/bb:1.0"]["digest"] == digest
    assert registry.resolve(f"{host}/podnet-test/bb@{digest}").digest == pulled.digest
    with pytest.raises(ImagePullError) as exc:
        registry.resolve(f"{host}/podnet-test/nope:1")
    assert exc.value.reason == "ErrImagePull"
    assert f'Failed to pull image "{host}/podnet-test/nope:1"' in str(exc.value)


def test_always_pulls_again_and_fails_without_the_registry(
    built: Built, cache: Path, tmp_path: Path
) -> None:
    """Kubernetes' Always: the registry is asked every time (within podnet's window)."""
    port = _free_port()  # nothing listens there
    store = ImageStore(cache)
    src = f"oci:{built.layout}:1.0"
    store.import_image(src, [f"127.0.0.1:{port}/podnet-test/bb:latest"])
    registry = default_registry(tmp_path / "state")
    ref = f"127.0.0.1:{port}/podnet-test/bb"
    assert registry.resolve(ref).rootfs is not None  # loaded from a file: used as present
    refs = store.refs()
    refs[f"{ref}:latest"]["origin"] = f"docker://{ref}:latest"  # as if pulled from there
    with store.locked():
        store.write_refs(refs)
    with pytest.raises(ImagePullError):
        registry.resolve(ref)  # default Always: the registry is gone
    assert registry.resolve(ref, "IfNotPresent").rootfs is not None


def test_unknown_image_is_named_with_a_suggestion(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n"
        "spec: {containers: [{name: c, image: 'ngnix:1.25'}]}\n"
    )
    assert main(["run", "-f", str(pod)]) == 1
    err = capsys.readouterr().err
    assert "unknown image 'ngnix:1.25'" in err and "did you mean nginx?" in err, err
    assert "Traceback" not in err
    assert main(["image", "rm", "ngnix"]) == 1
    assert "image 'ngnix' not found" in capsys.readouterr().err


def test_load_compressed_and_from_stdin(built: Built, cache: Path, tmp_path: Path) -> None:
    """``docker save x | gzip`` and ``docker save x | podnet image load -`` both load."""
    import gzip

    gz = tmp_path / "bb.tar.gz"
    gz.write_bytes(gzip.compress(built.docker_archive.read_bytes(), compresslevel=1))
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    for argv, stdin in ((["load", str(gz)], None), (["load", "-"], gz.read_bytes())):
        done = subprocess.run(
            [sys.executable, "-m", "podnet", "image", *argv],
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode() == f"Loaded image: {NAME}\n"
    assert not list((cache / "tmp").iterdir())  # the decompressed copies are gone
    assert [i.names for i in ImageStore(cache).images()] == [(NAME,)]


def test_a_failed_pull_backs_off_as_kubelet_does(cache: Path, tmp_path: Path) -> None:
    ref = f"127.0.0.1:{_free_port()}/podnet-test/gone:1"  # nothing listens there
    registry = default_registry(tmp_path / "state")
    with pytest.raises(ImagePullError) as first:
        registry.resolve(ref)
    assert first.value.reason == "ErrImagePull"
    with pytest.raises(ImagePullError) as again:
        registry.resolve(ref)  # within the back-off: not tried
    assert again.value.reason == "ImagePullBackOff"
    assert f'Back-off pulling image "{ref}"' in str(again.value)
    key = ref
    assert registry._backoff[key][1] == 10.0
    registry._backoff[key] = (0.0, 10.0)  # the back-off is over: pulled again, doubled
    with pytest.raises(ImagePullError) as third:
        registry.resolve(ref)
    assert third.value.reason == "ErrImagePull" and registry._backoff[key][1] == 20.0


def test_rootless_load_unpacks_into_the_users_cache(
    built: Built, world_readable_podnet: Path
) -> None:
    """As ``nobody``: ``$XDG_CACHE_HOME/podnet/images``, ``umoci --rootless``."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("needs setpriv and /usr/bin/python3")
    home = Path(tempfile.mkdtemp(prefix="podnet-images-nobody-"))
    try:
        home.chmod(0o777)
        archive = home / "bb.tar"
        shutil.copy(built.docker_archive, archive)
        archive.chmod(0o644)
        env = {
            "PYTHONPATH": str(world_readable_podnet / "site"),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / "cache"),
        }
        argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3"]
        for args in (["load", str(archive)], ["ls"]):
            done = subprocess.run(
                [*argv, "-m", "podnet", "image", *args],
                env=env,
                cwd="/",
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
        assert "localhost/podnet-test/bb   1.0" in done.stdout, done.stdout
        images = home / "cache" / "podnet" / "images" / "images"
        (unpacked,) = images.iterdir()
        busybox = unpacked / "rootfs" / "bin" / "busybox"
        assert busybox.read_bytes() == BUSYBOX.read_bytes()
        assert busybox.stat().st_uid == 65534  # rootless: the files are the user's
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_work_of_a_killed_process_is_removed_and_unpacks_do_not_wait(
    built: Built, cache: Path
) -> None:
    """tmp/ entries of a dead pid go at the next write; one image's unpack lock does not
    hold up another's names (refs.json has its own lock)."""
    import fcntl

    dead = 2**22 + 1  # above pid_max's default: no such process
    (cache / "tmp" / f"{dead}-0" / "layout").mkdir(parents=True)
    (cache / "tmp" / f"{dead}-load-x.tar").write_bytes(b"x")
    store = ImageStore(cache)
    other = os.open(cache / "unpack-0000000000000000", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)  # another image being unpacked elsewhere
        assert store.import_image(f"oci:{built.layout}:1.0", [NAME]).unpacked
    finally:
        os.close(other)
    assert list((cache / "tmp").iterdir()) == []


def test_rm_keeps_the_files_a_container_holds(built: Built, cache: Path, tmp_path: Path) -> None:
    """``image rm`` untags at once; the files go when the last holder lets go."""
    from podnet.dataplane.images.store import hold

    store = ImageStore(cache)
    store.import_image(f"oci:{built.layout}:1.0", [NAME])
    registry = default_registry(tmp_path / "state")
    image = registry.resolve(NAME, "Never")
    assert image.rootfs is not None
    fd = hold(image)
    try:
        assert store.remove(NAME) == [NAME] and store.refs() == {}
        assert store.kept_in_use and (image.rootfs / "bin" / "busybox").is_file()
        with pytest.raises(ImageError):
            registry.resolve(NAME, "Never")  # gone for new containers
        with pytest.raises(ImageError):
            hold(image)
        again = store.import_image(f"oci:{built.layout}:1.0", [NAME])  # taken back
        assert not again.unpacked and registry.resolve(NAME, "Never").rootfs == image.rootfs
        store.remove(NAME)
        assert store.kept_in_use
    finally:
        os.close(fd)
    with store.locked():  # any later write collects it
        pass
    assert not image.rootfs.exists() and list((cache / "images").iterdir()) == []
