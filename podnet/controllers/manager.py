"""kube-controller-manager and kube-scheduler of ``podnet up``, in one object.

Every controller registers its informers and handlers on one shared
:class:`~podnet.controllers.informer.Informers` (one list+watch per resource, however
many controllers read it), then runs its own worker thread. Controllers read the
informers' caches and write through the registry only, as controllers go through the
API server (cmd/kube-controller-manager/app/controllermanager.go StartControllers).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from podnet.apiserver.admission.kinds import PRIORITY_CLASSES
from podnet.apiserver.errors import ApiError
from podnet.apiserver.metrics.storage import Storage as MetricsStorage
from podnet.apiserver.tokens.issuer import TokenIssuer
from podnet.controllers.autoscaling.horizontal import HorizontalController
from podnet.controllers.base import Clock, Controller
from podnet.controllers.clusterroleaggregation import ClusterRoleAggregationController
from podnet.controllers.crdstatus import CRDStatusController
from podnet.controllers.cronjob import CronJobController
from podnet.controllers.daemonset import DaemonSetController
from podnet.controllers.deployment import DeploymentController
from podnet.controllers.disruption import DisruptionController
from podnet.controllers.endpointslice import EndpointSliceController
from podnet.controllers.garbagecollector import GarbageCollector
from podnet.controllers.informer import Informers
from podnet.controllers.job import JobController
from podnet.controllers.namespace import NamespaceController
from podnet.controllers.nodes import NodeController
from podnet.controllers.replicaset import RCS, REPLICASETS, ReplicaSetController
from podnet.controllers.rootcacert import RootCACertPublisher
from podnet.controllers.scheduler import Scheduler
from podnet.controllers.serviceaccount import ServiceAccountController, TokensController
from podnet.controllers.statefulset import StatefulSetController
from podnet.controllers.volume.ephemeral import EphemeralVolumeController
from podnet.controllers.volume.persistentvolume import PersistentVolumeController

log = logging.getLogger(__name__)

# pkg/apis/scheduling/helpers.go systemPriorityClasses
SYSTEM_PRIORITY_CLASSES = (
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to "
        "another node if necessary.",
    ),
)


def ensure_system_priority_classes(registry: Any) -> None:
    """kube-apiserver's post-start hook ``scheduling/bootstrap-system-priority-classes``
    (pkg/registry/scheduling/rest/storage_scheduling.go AddSystemPriorityClasses):
    create the two system classes when missing, leave them be when present."""
    for name, value, description in SYSTEM_PRIORITY_CLASSES:
        if registry.store.get(PRIORITY_CLASSES.key(None, name)) is not None:
            continue
        try:
            registry.create(
                PRIORITY_CLASSES,
                None,
                {"metadata": {"name": name}, "value": value, "description": description},
            )
        except ApiError as e:
            if e.code != 409:
                raise


class ControllerManager:
    """``ca_pem``: the API server's CA certificate (PEM); when given, every namespace gets
    it in its ``kube-root-ca.crt`` ConfigMap (kube-controller-manager's
    root-ca-cert-publisher, run when it has ``--root-ca-file``). ``volumes_dir``: where
    podnet's provisioner makes volumes for claims (none made without it)."""

    def __init__(
        self,
        registry: Any,
        *,
        nodes: int,
        clock: Clock = time.time,
        ca_pem: str | None = None,
        token_issuer: TokenIssuer | None = None,
        metrics: MetricsStorage | None = None,
        volumes_dir: Path | None = None,
    ) -> None:
        self.registry = registry
        self.metrics = metrics  # metrics.k8s.io's storage, for the HPA controller
        self.informers = Informers(registry)
        kw: dict[str, Any] = {"clock": clock}
        self.controllers: list[Controller] = [
            NamespaceController(registry, self.informers, **kw),
            NodeController(registry, self.informers, nodes=nodes, **kw),
            ServiceAccountController(registry, self.informers, **kw),
            Scheduler(registry, self.informers, **kw),
            ReplicaSetController(registry, self.informers, res=REPLICASETS, **kw),
            ReplicaSetController(registry, self.informers, res=RCS, **kw),
            DeploymentController(registry, self.informers, **kw),
            StatefulSetController(registry, self.informers, **kw),
            DaemonSetController(registry, self.informers, **kw),
            JobController(registry, self.informers, **kw),
            CronJobController(registry, self.informers, **kw),
            DisruptionController(registry, self.informers, **kw),
            HorizontalController(registry, self.informers, metrics=metrics, **kw),
            EndpointSliceController(registry, self.informers, **kw),
            CRDStatusController(registry, self.informers, **kw),
            ClusterRoleAggregationController(registry, self.informers, **kw),
            GarbageCollector(registry, self.informers, **kw),
            PersistentVolumeController(registry, self.informers, volumes_dir=volumes_dir, **kw),
            EphemeralVolumeController(registry, self.informers, **kw),
        ]
        if ca_pem is not None:
            self.controllers.append(
                RootCACertPublisher(registry, self.informers, ca_pem=ca_pem, **kw)
            )
        if token_issuer is not None:  # the tokens controller (--service-account-private-key-file)
            self.controllers.append(
                TokensController(
                    registry, self.informers, issuer=token_issuer, ca_pem=ca_pem or "", **kw
                )
            )
        self._started = False

    def get(self, name: str) -> Controller:
        for c in self.controllers:
            if c.name == name:
                return c
        raise KeyError(name)

    def start(self) -> None:
        """The system PriorityClasses (before any pod may name one), handlers, then the
        informers, then one worker thread per controller (each waits for the caches to
        sync before its first key)."""
        if self._started:
            return
        self._started = True
        ensure_system_priority_classes(self.registry)
        for c in self.controllers:
            c.setup()
        self.informers.start()
        for c in self.controllers:
            c.start()

    def wait_synced(self, timeout: float = 10.0) -> bool:
        return self.informers.wait_synced(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every worker and informer, waiting at most ``timeout`` in all."""
        if not self._started:
            return
        deadline = time.monotonic() + timeout
        for c in self.controllers:
            c.stop()
        for c in self.controllers:
            c.join(max(0.0, deadline - time.monotonic()))
        self.informers.stop(max(0.05, deadline - time.monotonic()))
        self._started = False
