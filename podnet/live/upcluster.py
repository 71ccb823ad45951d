"""The parts of ``podnet up`` in one object, brought up in dependency order and torn
down in reverse (:mod:`podnet.live.up` runs it until a signal)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podnet.apiserver import auth, certs, kubeconfig
from podnet.apiserver.errors import ApiError
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.http.podstreams import ExecSession
from podnet.apiserver.metrics.scraper import Scraper
from podnet.apiserver.registry import Registry
from podnet.apiserver.resources import Resource, by_kind
from podnet.apiserver.store import open_store
from podnet.apiserver.store.base import Store
from podnet.apiserver.tokens import keys as sa_keys
from podnet.apiserver.tokens.issuer import TokenIssuer, kubelet_tokens, registry_getter
from podnet.controllers.manager import ControllerManager
from podnet.dataplane.volumes.sources import MountError
from podnet.errors import PodnetError
from podnet.live.cluster import LiveCluster
from podnet.live.core.bootstrap import bootstrap
from podnet.live.exec import ExecEndpoint
from podnet.live.kubelet import Kubelet
from podnet.live.kubelet_streams import PodStreamer
from podnet.live.metrics import ContainerPids
from podnet.live.registry import Announcer
from podnet.model.cluster import Endpoint
from podnet.model.objects import Manifests

API_PORT_IN_CLUSTER = 6443  # kubeadm's --secure-port, the kubernetes Service's targetPort


@dataclass(frozen=True)
class UpOptions:
    nodes: int = 1
    name: str = "podnet"
    kubeconfig: str | None = None
    data_dir: str | None = None
    port: int = 0
    address: str = "127.0.0.1"


class DataDirBusy(PodnetError):
    """Another ``podnet up`` holds the data dir."""


def open_data_dir(path: Path) -> int:
    """Create (mode 0700) and lock the data dir; the lock's fd, held while up runs."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirBusy(f"{path}: another `podnet up` is using this data dir") from None
    return fd


class KubeletStreams:
    """The API server's pod streams over the kubelet: ``pods/log``, whose reads block
    (each runs on a thread, its chunks handed to the event loop), and ``exec``,
    ``attach`` and ``portforward`` (:mod:`podnet.live.kubelet_streams`, on the loop)."""

    def __init__(self, kubelet: Kubelet) -> None:
        self.kubelet = kubelet
        self.streamer = PodStreamer(kubelet)

    async def exec(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None,
        command: Sequence[str],
        stdin: bool,
        tty: bool,
    ) -> ExecSession:
        return await self.streamer.exec(
            namespace, name, container=container, command=command, stdin=stdin, tty=tty
        )

    async def attach(
        self, namespace: str, name: str, *, container: str | None, stdin: bool, tty: bool
    ) -> ExecSession:
        return await self.streamer.attach(
            namespace, name, container=container, stdin=stdin, tty=tty
        )

    async def port_forward(
        self, namespace: str, name: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await self.streamer.port_forward(namespace, name, port)

    async def logs(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None,
        follow: bool,
        tail_lines: int | None,
        since_seconds: int | None,
        timestamps: bool,
        previous: bool,
        since_time: float | None = None,
        limit_bytes: int | None = None,
    ) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        if not follow:
            data = await loop.run_in_executor(
                None,
                lambda: self.kubelet.logs(
                    namespace,
                    name,
                    container,
                    tail=tail_lines,
                    since_seconds=since_seconds,
                    timestamps=timestamps,
                    previous=previous,
                    since_time=since_time,
                    limit_bytes=limit_bytes,
                ),
            )
            yield data
            return
        chunks = self.kubelet.follow_logs(
            namespace,
            name,
            container,
            tail=tail_lines,
            since_seconds=since_seconds,
            timestamps=timestamps,
            since_time=since_time,
            limit_bytes=limit_bytes,
        )
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        stop = threading.Event()

        def pump() -> None:
            try:
                for chunk in chunks:
                    if stop.is_set():
                        break
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=pump, name="logs-follow", daemon=True).start()
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
        finally:
            stop.set()


class UpCluster:
    def __init__(self, opts: UpOptions, *, on_event: Callable[[str], None]) -> None:
        self.opts = opts
        self.on_event = on_event
        self.context = kubeconfig.entry_name(opts.name)
        self.kubeconfig_path = (
            Path(opts.kubeconfig) if opts.kubeconfig else kubeconfig.default_path()
        )
        self._lock_fd: int | None = None
        self.store: Store | None = None
        self.registry: Registry | None = None
        self.cluster: LiveCluster | None = None
        self.kubelet: Kubelet | None = None
        self.controllers: ControllerManager | None = None
        self.server: ServerThread | None = None
        self._installed: kubeconfig.Installed | None = None
        self.announcer: Announcer | None = None
        self.exec_endpoint: ExecEndpoint | None = None
        self.metrics: Scraper | None = None

    def start(self) -> str:
        """Bring everything up; the API's URL."""
        opts = self.opts
        # Made first: its scratch dir (a tmpfs, removed by the cluster init even if
        # podnet is SIGKILLed) holds the data of a cluster without --data-dir.
        self.cluster = LiveCluster(Manifests(), nodes=opts.nodes, on_event=self.on_event)
        data_dir = (
            Path(opts.data_dir).resolve() if opts.data_dir else self.cluster.state_dir / "api"
        )
        self._lock_fd = open_data_dir(data_dir)
        self.store = open_store(data_dir)
        self.registry = Registry(self.store)
        bootstrap(self.registry)
        self.cluster.start()
        tls = certs.ensure(data_dir)
        # the service account key beside the CA (pki/sa.key): tokens outlive a restart
        self.token_issuer = TokenIssuer(sa_keys.ensure(tls.ca_cert.parent))
        self.metrics = Scraper(ContainerPids(self.cluster))  # metrics-server's part
        self.controllers = ControllerManager(
            self.registry,
            nodes=opts.nodes,
            ca_pem=tls.ca_cert.read_text(),
            token_issuer=self.token_issuer,
            metrics=self.metrics.storage,
            volumes_dir=data_dir / "pv",  # claims' volumes outlive a restart with the data
        )
        self.controllers.start()
        self.kubelet = Kubelet(self.registry, self.cluster)
        self.kubelet.volumes.volumes_dir = data_dir / "pv"
        self.kubelet.volumes.tokens = kubelet_tokens(
            self.token_issuer, registry_getter(self.registry), MountError
        )
        self.kubelet.start()
        token = auth.ensure_token(data_dir)
        inside = self._listen_inside()
        self.server = ServerThread(
            self.registry,
            host=opts.address,
            port=opts.port,
            tls=tls,
            authenticator=auth.Authenticator(token),
            token_issuer=self.token_issuer,
            pod_streams=KubeletStreams(self.kubelet),
            extra_sockets=[inside] if inside is not None else [],
        )
        port = self.server.start()
        assert self.server.server is not None
        self.server.server.handlers.metrics = self.metrics.storage
        self.metrics.start()
        if inside is not None:
            self._publish_endpoint(self.registry, inside.getsockname()[0])
        host = f"[{opts.address}]" if ":" in opts.address else opts.address
        url = f"https://{host}:{port}"
        self._installed = kubeconfig.install(
            opts.name, url, tls, token, Path(opts.kubeconfig) if opts.kubeconfig else None
        )
        self.kubeconfig_path = self._installed.path
        # `podnet exec` finds this cluster's pods as it finds a `podnet run`'s
        self.announcer = Announcer(self.cluster.describe)
        self.exec_endpoint = ExecEndpoint(self.cluster, "up")  # podnet exec --cluster PID
        return url

    def _listen_inside(self) -> socket.socket | None:
        """The API's listener inside node-0's network namespace, on the node's address:
        the ``kubernetes`` Service's endpoint, as kube-apiserver's advertise address is.
        Pods reach it through the ClusterIP; nothing is added to the host."""
        assert self.cluster is not None
        try:
            return self.cluster.listen_in_node("node-0", API_PORT_IN_CLUSTER)
        except OSError as e:  # a rootless cluster: its namespaces are not ours to enter
            self.on_event(f"the API is not reachable from pods (kubernetes Service): {e}")
            return None

    def _publish_endpoint(self, registry: Registry, address: str) -> None:
        """``default/kubernetes``'s Endpoints and EndpointSlice, as kube-apiserver's
        endpoint reconciler keeps them (pkg/controlplane/reconcilers), and the same
        endpoint for the data plane."""
        assert self.cluster is not None
        port = {"name": "https", "port": API_PORT_IN_CLUSTER, "protocol": "TCP"}
        endpoints, slices = by_kind("", "Endpoints"), by_kind("discovery.k8s.io", "EndpointSlice")
        assert endpoints is not None and slices is not None
        objects: list[tuple[Resource, dict[str, Any]]] = [
            (
                endpoints,
                {
                    "apiVersion": "v1",
                    "kind": "Endpoints",
                    "metadata": {
                        "name": "kubernetes",
                        "namespace": "default",
                        "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
                    },
                    "subsets": [{"addresses": [{"ip": address}], "ports": [port]}],
                },
            ),
            (
                slices,
                {
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": "kubernetes",
                        "namespace": "default",
                        "labels": {"kubernetes.io/service-name": "kubernetes"},
                    },
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
                    "ports": [port],
                },
            ),
        ]
        for res, obj in objects:
            try:
                current = registry.get(res, "default", "kubernetes")
            except ApiError as e:
                if e.code != 404:
                    raise
                registry.create(res, "default", obj)
            else:
                obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                registry.update(res, "default", "kubernetes", obj)
        self.cluster.set_static_endpoints(
            {
                "default/kubernetes": {
                    "https": (
                        Endpoint(
                            pod="",
                            ip=address,
                            node="node-0",
                            port=API_PORT_IN_CLUSTER,
                            protocol="TCP",
                        ),
                    )
                }
            }
        )

    def check(self) -> None:
        """Raise what broke in the background (the cluster's sync, its init's death)."""
        if self.cluster is not None:
            self.cluster.check()

    def close(self) -> None:
        """The API first, then controllers, kubelet, store, kubeconfig entries, cluster."""
        if self.announcer is not None:
            self.announcer.close()
        if self.exec_endpoint is not None:
            self.exec_endpoint.close()
        if self.server is not None:
            self.server.stop()
        if self.metrics is not None:
            self.metrics.stop()
        if self.controllers is not None:
            self.controllers.stop()
        if self.kubelet is not None:
            self.kubelet.stop()
        if self.store is not None:
            self.store.close()
        if self._installed is not None:
            with contextlib.suppress(OSError):
                kubeconfig.remove(self._installed)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
        if self.cluster is not None:
            self.cluster.close()  # every pod, namespace and table; its scratch dir
