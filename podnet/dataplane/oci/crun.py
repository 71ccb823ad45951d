"""The OCI runtime binary: found once, and the argv of its ``run`` and ``exec``.

crun is preferred (it starts a container in a few ms; runc, a Go binary, takes tens),
runc is the fallback; ``PODNET_OCI_RUNTIME`` names another one. Both are run with a
``--root`` (their state directory) inside podnet's state directory and with
``--cgroup-manager=disabled`` / ``--systemd-cgroup=false``: podnet makes no cgroups,
because a cgroup would outlive a SIGKILLed podnet and nothing would remove it.
"""

from __future__ import annotations

import functools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from podnet.errors import NotSupportedError

ENV_VAR = "PODNET_OCI_RUNTIME"
# crun (and runc) started from a file first copy themselves to a sealed memfd and
# execute that copy (the CVE-2019-5736 defence, crun's cloned_binary.c
# ensure_cloned_binary); it counts as done when this is set and the binary is on a
# read-only mount (is_self_cloned: "Is the binary on a read-only filesystem?")
CLONED_BINARY_ENV = "_LIBCONTAINER_CLONED_BINARY"
CANDIDATES = ("crun", "runc")
SEARCH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class OciBinary:
    path: str
    root: Path  # --root: the runtime's container state
    # ``run`` from here: a read-only bind of ``path`` in every pod's mount namespace
    # (made by each pause, :attr:`Sandbox.pod_binds`), where ``run`` is started
    run_path: str | None = None

    @functools.cached_property
    def is_crun(self) -> bool:  # asked for every container start
        return os.path.basename(self.path).startswith("crun")

    def global_argv(self) -> list[str]:
        """The binary and its global options (state root, no cgroups)."""
        return self._global()

    def _global(self) -> list[str]:
        if self.is_crun:
            return [self.path, "--root", str(self.root), "--cgroup-manager=disabled"]
        # runc has no "disabled": with --rootless=true and no cgroupsPath it skips each
        # cgroup it cannot create, which in a pod's mount namespace (cgroups mounted
        # read-only by the pause) is every one (runc libcontainer/cgroups/fs/fs.go)
        return [self.path, "--root", str(self.root), "--rootless=true"]

    def run_argv(
        self, bundle: Path, container_id: str, console_socket: Path | None = None
    ) -> list[str]:
        """``run`` in the foreground: stdio passed through, exit status the container's;
        with ``console_socket`` the container's terminal master is sent there."""
        console = [] if console_socket is None else ["--console-socket", str(console_socket)]
        program = self._global()
        if self.run_path is not None:
            program[0] = self.run_path
        return [*program, "run", *console, "--bundle", str(bundle), container_id]

    def run_env(self) -> dict[str, str]:
        """What ``run``'s environment adds: with :attr:`run_path`, that crun need not
        copy and re-execute itself (it is on a read-only mount: nothing in a container
        can write to it through ``/proc/<pid>/exe``), an exec and a load of its
        libraries less per container start (~1 ms of CPU, bench/README.md)."""
        return {} if self.run_path is None else {CLONED_BINARY_ENV: "1"}

    def exec_argv(
        self, process_file: Path, container_id: str, console_socket: Path | None = None
    ) -> list[str]:
        console = [] if console_socket is None else ["--console-socket", str(console_socket)]
        return [*self._global(), "exec", *console, "--process", str(process_file), container_id]


def find(root: Path, environ: dict[str, str] | None = None) -> OciBinary:
    """crun, else runc (or ``$PODNET_OCI_RUNTIME``); a clear error naming the package."""
    env = os.environ if environ is None else environ
    wanted = env.get(ENV_VAR)
    names = (wanted,) if wanted else CANDIDATES
    for name in names:
        path = shutil.which(name, path=SEARCH) if "/" not in name else name
        if path and os.access(path, os.X_OK):
            return OciBinary(path, root)
    raise NotSupportedError(
        "no OCI runtime found: podnet runs containers with crun (or runc); install it "
        "with `apt-get install crun` (Debian/Ubuntu package crun), or set "
        f"{ENV_VAR}=/path/to/runtime"
    )
