"""Container states, restart decisions and pod phase, as pure functions over plain data.

Everything here follows "Pod Lifecycle" (kubernetes.io/docs/concepts/workloads/pods/
pod-lifecycle/):

* container states ``Waiting`` / ``Running`` / ``Terminated`` (with exit code and reason);
* restartPolicy ``Always`` restarts after any exit, ``OnFailure`` after a non-zero exit,
  ``Never`` never; init containers are restarted on failure unless the policy is
  ``Never`` (then the pod fails);
* restarts wait an exponential back-off of 10s, 20s, 40s... capped at 300s, reset after
  a container has run 10 minutes without trouble ("Container restarts"); as kubelet
  does, the first crash is restarted at once and the back-off applies from the second
  (:mod:`podnet.dataplane.runtime.container` asks for ``backoff_delay(n - 1)``);
* the phase: ``Pending`` until every init container succeeded and the app containers
  were started; ``Running`` while at least one container runs or is restarting;
  ``Succeeded`` when all terminated with 0 and none restarts; ``Failed`` when all
  terminated, at least one non-zero, and none restarts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET_AFTER = 600.0

WAITING, RUNNING, TERMINATED = "Waiting", "Running", "Terminated"
PENDING, SUCCEEDED, FAILED = "Pending", "Succeeded", "Failed"
RESTART_POLICIES = ("Always", "OnFailure", "Never")


@dataclass(frozen=True)
class ContainerStatus:
    """One container's status, as ``kubectl get pod -o yaml`` shows it."""

    name: str
    state: str = WAITING
    reason: str = "ContainerCreating"
    exit_code: int | None = None
    restart_count: int = 0
    ready: bool = False
    started: float | None = None  # monotonic time of the current/last start
    init: bool = False
    # the startup probe succeeded (kubelet's containerStatuses[].started while running;
    # True from the start without one) and the last probe Events, (seq, type, reason,
    # message) with a process-wide seq (runtime.probes.next_event)
    startup_done: bool = True
    probe_events: tuple[tuple[int, str, str, str], ...] = ()

    @property
    def will_restart(self) -> bool:
        return self.state == WAITING and self.reason == "CrashLoopBackOff"


@dataclass(frozen=True)
class PodStatus:
    key: str
    phase: str
    init_containers: tuple[ContainerStatus, ...]
    containers: tuple[ContainerStatus, ...]
    # ephemeral containers (kubectl debug): in no condition, the phase or readiness
    ephemeral: tuple[ContainerStatus, ...] = ()

    @property
    def ready(self) -> bool:
        """The pod's Ready condition: every app container ready."""
        return bool(self.containers) and all(c.ready for c in self.containers)

    def container(self, name: str) -> ContainerStatus | None:
        for c in (*self.init_containers, *self.containers, *self.ephemeral):
            if c.name == name:
                return c
        return None


def backoff_delay(consecutive_restarts: int, scale: float = 1.0) -> float:
    """Seconds to wait before restart number ``consecutive_restarts`` (1-based).

    10s, 20s, 40s, ... capped at 300s; ``scale`` shrinks the schedule for tests.
    """
    if consecutive_restarts <= 0:
        return 0.0
    delay = BACKOFF_INITIAL * float(2 ** min(consecutive_restarts - 1, 16))
    return min(delay, BACKOFF_MAX) * scale


def should_restart(restart_policy: str, exit_code: int, *, init: bool = False) -> bool:
    """Whether a container that exited with ``exit_code`` is started again."""
    if restart_policy == "Never":
        return False
    if init or restart_policy == "OnFailure":
        return exit_code != 0
    return True


def pod_phase(
    init: Sequence[ContainerStatus],
    app: Sequence[ContainerStatus],
    *,
    app_started: bool,
) -> str:
    """The pod phase from its container statuses (see the module docstring)."""
    if any(c.state == TERMINATED and c.exit_code not in (0, None) for c in init):
        return FAILED  # a failed init container that will not restart
    if not app_started:
        return PENDING
    if any(c.state == RUNNING or c.will_restart for c in app):
        return RUNNING
    if app and all(c.state == TERMINATED for c in app):
        return SUCCEEDED if all(c.exit_code == 0 for c in app) else FAILED
    return PENDING
