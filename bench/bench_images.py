"""Benchmark: what an image costs the first cluster and what it costs the next one.

An image is built offline (umoci, Debian's static busybox plus ``--payload-mb`` of
files copied from this Python's standard library, so the unpack has real work), saved
as a docker-archive with skopeo, then, each step ``--runs`` times (median):

* cold load: ``ImageStore.import_image`` into an empty cache (config read, skopeo copy
  into an OCI layout, umoci raw unpack, rename);
* warm load: the same archive into the same cache (another cluster or a second
  ``podnet image load``): the config digest is read and found, nothing is unpacked;
* second cluster: a new cluster's registry (``default_registry``, made before the clock
  starts) resolving the image, as its first pod does;
* with ``--registry``: a cold and a warm pull from Debian's docker-registry on 127.0.0.1
  (started and stopped by pid).

    .venv/bin/python bench/bench_images.py [--runs 5] [--payload-mb 20] [--registry]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from podnet.dataplane.images.reference import parse
from podnet.dataplane.images.registry import default_registry
from podnet.dataplane.images.store import ImageStore

NAME = "localhost/bench/image:1"


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=300)


def build(tmp: Path, payload_mb: int) -> tuple[Path, Path]:
    """(OCI layout, docker-archive) of busybox plus ``payload_mb`` MB of stdlib files."""
    layout, bundle = tmp / "layout", tmp / "bundle"
    _run("umoci", "init", "--layout", str(layout))
    _run("umoci", "new", "--image", f"{layout}:1")
    _run("umoci", "unpack", "--rootless", "--image", f"{layout}:1", str(bundle))
    rootfs = bundle / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
    budget = payload_mb * 1_000_000
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for src in sorted(stdlib.rglob("*.py")):
        if budget <= 0:
            break
        dst = rootfs / "payload" / src.relative_to(stdlib)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        budget -= src.stat().st_size
    _run("umoci", "repack", "--image", f"{layout}:1", str(bundle))
    _run("umoci", "config", "--image", f"{layout}:1", "--config.entrypoint", "/bin/busybox")
    archive = tmp / "image.tar"
    _run("skopeo", "copy", "-q", f"oci:{layout}:1", f"docker-archive:{archive}:{NAME}")
    return layout, archive


def median_ms(step: Callable[[int], object], runs: int) -> float:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def registry_rows(tmp: Path, layout: Path, runs: int) -> list[tuple[str, float]]:
    port = _free_port()
    config = tmp / "registry.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp / 'registry'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        ref = f"127.0.0.1:{port}/bench/image:1"
        _run(
            "skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:1", f"docker://{ref}"
        )
        caches = [tmp / f"pull-{i}" for i in range(runs)]
        cold = median_ms(lambda i: ImageStore(caches[i]).pull(parse(ref)), runs)
        warm = median_ms(lambda i: ImageStore(caches[i]).pull(parse(ref)), runs)
        return [("pull, cold (local registry)", cold), ("pull, warm (same cache)", warm)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--payload-mb", type=int, default=20)
    ap.add_argument("--registry", action="store_true", help="also pull from docker-registry")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-images-") as d:
        tmp = Path(d)
        layout, archive = build(tmp, args.payload_mb)
        from podnet.dataplane.images.sources import sources

        src = sources(archive)[0].transport
        caches = [tmp / f"cache-{i}" for i in range(args.runs)]
        cold = median_ms(lambda i: ImageStore(caches[i]).import_image(src, [NAME]), args.runs)
        size = ImageStore(caches[0]).images()[0].size
        warm = median_ms(lambda i: ImageStore(caches[i]).import_image(src, [NAME]), args.runs)

        # a new cluster's registry (its built-in images made outside the timing): the
        # image's cost to it is the resolve of its first pod
        regs = [
            default_registry(tmp / f"state-{i}", store=ImageStore(caches[i]))
            for i in range(args.runs)
        ]
        resolve = median_ms(lambda i: regs[i].resolve(NAME), args.runs)
        rows = [
            (f"load, cold ({size / 1e6:.1f} MB unpacked)", cold),
            ("load, warm (same cache: nothing unpacked)", warm),
            ("second cluster: its first resolve", resolve),
        ]
        if args.registry:
            rows += registry_rows(tmp, layout, args.runs)
    print(f"{'step':<45} {'median ms':>10}   (runs={args.runs})")
    for what, ms in rows:
        print(f"{what:<45} {ms:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
