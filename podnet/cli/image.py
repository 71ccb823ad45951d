"""``podnet image load|pull|ls|inspect|rm``: the image cache every cluster here shares.

``load FILE|DIR`` imports a ``docker save``/``podman save`` tarball (docker-archive or
oci-archive) or an OCI image layout directory, like ``docker load``; ``pull REF`` pulls
from a registry (a registry on 127.0.0.1 or localhost is spoken to over plain HTTP, as
Docker does); ``ls`` lists the cache with crictl's columns; ``inspect`` shows an
image's config; ``rm`` removes names and,
once an image has none, its files. Images in the cache win over podnet's built-in
images of the same name, in ``podnet run`` and in a running ``podnet up`` alike.
The cache is ``/var/cache/podnet/images`` for root, else ``$XDG_CACHE_HOME/podnet/images``
(``--cache`` or ``PODNET_IMAGE_CACHE`` for another).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from podnet.cli.common import add_output_arg, print_data, progress
from podnet.dataplane.images.reference import parse
from podnet.dataplane.images.sources import Source, plain_tar, sources
from podnet.dataplane.images.store import ImageStore, StoredImage
from podnet.errors import ImageError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "image",
        help="load, pull, list and remove images in the shared image cache",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cache", metavar="DIR", help="the image cache directory")
    verbs = p.add_subparsers(dest="image_verb", metavar="VERB", required=True)
    load = verbs.add_parser("load", help="import a docker-archive, oci-archive or OCI layout")
    load.add_argument("path", metavar="FILE|DIR|-", help="an archive (maybe compressed) or layout")
    load.add_argument("--name", help="the name to give the image (REPOSITORY[:TAG])")
    load.set_defaults(func=run_load)
    pull = verbs.add_parser("pull", help="pull an image from its registry")
    pull.add_argument("ref", metavar="REF")
    pull.set_defaults(func=run_pull)
    ls = verbs.add_parser("ls", aliases=["list"], help="list the cached images")
    add_output_arg(ls, ("text", "json", "yaml"), "text")
    # dest is not "quiet": that is the global --quiet (errors only); this is crictl's -q
    ls.add_argument("-q", "--quiet", dest="ids_only", action="store_true", help="only image IDs")
    ls.set_defaults(func=run_ls)
    inspect = verbs.add_parser("inspect", help="an image's ID, names, rootfs and config")
    inspect.add_argument("refs", nargs="+", metavar="REF|ID")
    add_output_arg(inspect, ("json", "yaml"), "json")
    inspect.set_defaults(func=run_inspect)
    rm = verbs.add_parser("rm", aliases=["rmi"], help="remove images by name or ID")
    rm.add_argument("refs", nargs="+", metavar="REF|ID")
    rm.set_defaults(func=run_rm)


def _store(args: argparse.Namespace) -> ImageStore:
    return ImageStore(Path(args.cache)) if args.cache else ImageStore()


def run_load(args: argparse.Namespace) -> int:
    store = _store(args)
    with plain_tar(args.path, store.root / "tmp") as path:
        found = sources(path)
        if args.name and len(found) > 1:
            raise ImageError(f"{args.path} holds {len(found)} images: --name names only one")
        _load(store, found, args.name)
    return 0


def _load(store: ImageStore, found: list[Source], name: str | None) -> None:
    for src in found:
        raw = (name,) if name else src.names
        names = [str(parse(n).tagged()) for n in raw]
        start = time.monotonic()
        done = store.import_image(src.transport, names)
        took = time.monotonic() - start
        what = "unpacked" if done.unpacked else "already in the cache"
        progress(f"{src.transport}: {done.image.id} {what} ({took:.2f}s)")
        if names:
            for n in names:
                print(f"Loaded image: {parse(n).familiar()}")
        else:
            print(f"Loaded image ID: {done.image.id}")


def run_pull(args: argparse.Namespace) -> int:
    store = _store(args)
    done = store.pull(parse(args.ref))
    print(f"Image is up to date for {done.image.id}")  # crictl pull's line
    return 0


def human_size(size: int) -> str:
    """go-units ``HumanSizeWithPrecision(size, 3)``, as crictl prints SIZE (kB = 1000)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    value, i = float(size), 0
    while value >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    return f"{value:.3g}{units[i]}"


def _rows(images: list[StoredImage]) -> list[tuple[str, str, str, str]]:
    rows = []
    for img in images:
        short = img.id.removeprefix("sha256:")[:13]  # crictl's truncated ID
        size = human_size(img.size)
        if not img.names:
            rows.append(("<none>", "<none>", short, size))
        for n in img.names:
            r = parse(n)
            rows.append((r.name, r.tag or "<none>", short, size))
    return sorted(rows)


def _data(img: StoredImage) -> dict[str, Any]:
    return {
        "id": img.id,
        "repoTags": list(img.names),
        "repoDigests": list(img.digests),
        "size": str(img.size),  # CRI's uint64, a string in JSON
        "rootfs": str(img.rootfs),
    }


def run_inspect(args: argparse.Namespace) -> int:
    """crictl inspecti's data: the image's status and its config (Entrypoint, Cmd, ...)."""
    store = _store(args)
    listed = {i.id: i for i in store.images()}
    out = []
    for ref in args.refs:
        img = store.find(ref)
        if img is None:
            raise ImageError(f"image {ref!r} not found in the image cache {store.root}")
        full = listed.get(img.id, img)
        out.append({**_data(full), "config": full.config})
    print_data(out[0] if len(out) == 1 else out, args.output)
    return 0


def run_ls(args: argparse.Namespace) -> int:
    images = _store(args).images()
    if args.ids_only:
        for img in images:
            print(img.id)
        return 0
    if args.output != "text":
        data = {"images": [_data(img) for img in images]}
        print_data(data, args.output)
        return 0
    rows = [("REPOSITORY", "TAG", "IMAGE ID", "SIZE"), *_rows(images)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r[:3], widths, strict=True)]
        sys.stdout.write("   ".join([*cells, r[3]]) + "\n")
    return 0


def run_rm(args: argparse.Namespace) -> int:
    store = _store(args)
    for ref in args.refs:
        for gone in store.remove(ref):
            print(f"Deleted: {gone}")
        if store.kept_in_use:
            progress(f"{ref}: its files stay while containers use them")
    return 0
