"""skopeo and umoci, the field's image tools, wrapped once (STYLE.md principle 3).

``skopeo`` reads every source transport (``docker://``, ``docker-archive:``,
``oci-archive:``, ``oci:``) and writes the cache's OCI layouts; ``umoci raw unpack``
turns a layout's image into a root filesystem (layers applied, whiteouts resolved),
``--rootless`` when podnet is not root (files then belong to the user). Failures become
:class:`~podnet.errors.CommandError` (missing tool: ``NotSupportedError``) with skopeo's
own last line as the message, which names the real cause (unknown host, manifest
unknown, unauthorised).
"""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess
from collections.abc import Sequence
from pathlib import Path

from podnet.dataplane.failures import command_error
from podnet.errors import CommandError, NotSupportedError

PULL_TIMEOUT = 600.0


def _run(argv: Sequence[str], *, timeout: float) -> bytes:
    args = list(argv)
    try:
        proc = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as e:
        raise NotSupportedError(f"{args[0]} is not installed (needed for: {' '.join(args)})") from e
    except subprocess.TimeoutExpired as e:
        raise CommandError(args, -1, f"timed out after {timeout}s") from e
    if proc.returncode != 0:
        raise command_error(args, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout


def insecure(source: str) -> bool:
    """A ``docker://`` source on this machine's loopback: plain HTTP, no TLS check.

    Docker's default: 127.0.0.0/8 is an insecure registry unless configured otherwise
    (dockerd ``--insecure-registry`` documentation); ``localhost`` likewise here.
    """
    if not source.startswith("docker://"):
        return False
    host = source[len("docker://") :].split("/", 1)[0]
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def inspect_config(source: str) -> tuple[bytes, str]:
    """The raw image config of ``source`` and its digest (the image ID, ``sha256:...``).

    skopeo picks this machine's platform from a multi-arch index. The config's digest
    names the unpacked filesystem: same config, same layer diff IDs, same files.
    """
    tls = ["--tls-verify=false"] if insecure(source) else []
    raw = _run(["skopeo", "inspect", *tls, "--config", "--raw", source], timeout=PULL_TIMEOUT)
    return raw, "sha256:" + hashlib.sha256(raw).hexdigest()


def manifest_digest(source: str) -> str:
    """The digest a registry gives ``source``'s manifest (a pod's ``image@sha256:...``)."""
    tls = ["--tls-verify=false"] if insecure(source) else []
    out = _run(
        ["skopeo", "inspect", *tls, "--no-tags", "--format", "{{.Digest}}", source],
        timeout=PULL_TIMEOUT,
    )
    return out.decode().strip()


def copy(source: str, layout: Path, tag: str) -> None:
    """Copy ``source`` into the OCI layout ``layout`` as ``tag``."""
    tls = ["--src-tls-verify=false"] if insecure(source) else []
    # A docker-archive's plain layer tars are gzipped on the way into an OCI layout, only
    # to be gunzipped by the unpack a moment later: level 1, the fastest.
    # --dest-oci-accept-uncompressed-layers would skip it, but skopeo 1.9 then labels
    # the plain blobs tar+gzip and umoci refuses them.
    fast = ["--dest-compress-level", "1"]
    argv = ["skopeo", "copy", "-q", *fast, *tls, source, f"oci:{layout}:{tag}"]
    _run(argv, timeout=PULL_TIMEOUT)


def push(layout: Path, tag: str, dest: str) -> None:
    """Copy a layout's image to ``dest`` (tests push to a local registry with it)."""
    tls = ["--dest-tls-verify=false"] if insecure(dest) else []
    _run(["skopeo", "copy", "-q", *tls, f"oci:{layout}:{tag}", dest], timeout=PULL_TIMEOUT)


def unpack(layout: Path, tag: str, rootfs: Path, *, rootless: bool) -> None:
    """Apply the image's layers into the new directory ``rootfs``."""
    flags = ["--rootless"] if rootless else []
    _run(
        [
            "umoci",
            "--log",
            "error",
            "raw",
            "unpack",
            *flags,
            "--image",
            f"{layout}:{tag}",
            str(rootfs),
        ],
        timeout=PULL_TIMEOUT,
    )


def reason(e: CommandError) -> str:
    """The tool's own explanation: skopeo's last ``msg="..."``, else its last line."""
    lines = [ln for ln in e.stderr.strip().splitlines() if ln.strip()]
    if not lines:
        return str(e)
    last = lines[-1]
    start = last.find('msg="')
    if start >= 0:
        body = last[start + 5 :]
        end = body.rfind('"')
        return (body[:end] if end >= 0 else body).replace('\\"', '"')
    return last.strip()
