"""``podnet probe --cluster --pods``: probe the user's own running pods, opt-in.

The pods are left as they are except for one thing, said in the plan before anything
happens: every source pod gets an ephemeral container (``podnet-probe-<run>``, image
agnhost, running ``/agnhost pause``) through the ``pods/ephemeralcontainers``
subresource, as ``kubectl debug -it POD --image=...`` adds one. The probes run in it
(it shares the pod's network namespace, so the connection leaves from the pod's own
address) with ``agnhost connect``, as in conformance mode. Ephemeral containers cannot
be removed: it stays, paused, until the pod is deleted or replaced
(https://kubernetes.io/docs/concepts/workloads/pods/ephemeral-containers/).

Planning is pure (:func:`plan_user_probe` over a read snapshot): the pods chosen by
``-n/-A/-l``, Running with an IPv4 address, not host-network (to_state leaves those
out), every ordered pair on every served port (:mod:`podnet.live.probe.plan`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from podnet.analyze.conformance_case import AGNHOST
from podnet.analyze.matrix import compute_matrix
from podnet.kube.client import Client, Obj
from podnet.kube.errors import KubeError, NotFound
from podnet.kube.observed import Observed
from podnet.kube.read import PODS, policy_changes, read_policy_versions
from podnet.kube.write import add_ephemeral_container, execer, get
from podnet.kube.wsexec import Execer
from podnet.live.probe.cluster_exec import Where, probe_and_judge
from podnet.live.probe.plan import Planned, by_source, plan_probes
from podnet.live.probe.result import ProbeReport
from podnet.model.objects import Pod

Say = Callable[[str], None]
CONTAINER_PREFIX = "podnet-probe-"


@dataclass(frozen=True)
class UserPlan:
    observed: Observed
    pods: tuple[Pod, ...]
    plan: tuple[Planned, ...]
    via: str
    container: str  # the ephemeral container's name

    @property
    def sources(self) -> list[str]:
        return sorted(by_source(self.plan))


def plan_user_probe(observed: Observed, chosen: Sequence[Pod], via: str, run_id: str) -> UserPlan:
    pods = sorted((p for p in chosen if p.ip is not None), key=lambda p: p.key)
    plan = plan_probes(observed.state, pods, via)
    return UserPlan(observed, tuple(pods), tuple(plan), via, CONTAINER_PREFIX + run_id[:8])


def format_plan(up: UserPlan, qps: float, parallel: int) -> str:
    """What the run will do to the cluster, for a person to read before saying yes."""
    ports = sorted({(x.port, x.protocol) for x in up.plan})
    lines = [
        f"podnet probe --cluster --pods: {len(up.pods)} pod(s), "
        f"{sum(1 for x in up.plan if x.address)} connection(s) via {up.via} "
        f"on {', '.join(f'{p}/{q}' for p, q in ports) or 'no served port'}",
        f"changes to the cluster: an ephemeral container {up.container!r} "
        f"(image {AGNHOST}, command /agnhost pause) added to each of these "
        f"{len(up.sources)} pod(s); it cannot be removed and stays until the pod is replaced:",
    ]
    lines += [f"  {key}" for key in up.sources]
    lines.append(
        f"each connection: one exec of /agnhost connect in that container "
        f"(at most {parallel} at once, {qps:g} per second)"
    )
    return "\n".join(lines)


def ephemeral_spec(name: str) -> Obj:
    return {
        "name": name,
        "image": AGNHOST,
        "command": ["/agnhost", "pause"],
        "imagePullPolicy": "IfNotPresent",
        "stdin": False,
        "tty": False,
    }


def _running(pod: Obj, name: str) -> bool | str:
    """True when the ephemeral container runs; a reason string when it never will."""
    for st in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []:
        if st.get("name") != name:
            continue
        state = st.get("state") or {}
        if "running" in state:
            return True
        if "terminated" in state:
            return f"terminated ({state['terminated'].get('reason') or 'no reason'})"
    return False


def add_containers(
    client: Client, up: UserPlan, say: Say, ready_timeout: float = 120.0
) -> dict[str, Where]:
    """The ephemeral container in every source pod, running; where each pod's probes go."""
    where: dict[str, Where] = {}
    pods = {p.key: p for p in up.pods}
    for key in up.sources:
        p = pods[key]
        current = get(client, PODS, p.name, p.namespace)
        if current is None:
            raise KubeError(f"pod {key} is gone")
        names = {
            c.get("name") for c in (current.get("spec") or {}).get("ephemeralContainers") or []
        }
        if up.container not in names:
            try:
                add_ephemeral_container(client, p.namespace, p.name, ephemeral_spec(up.container))
            except NotFound as e:
                raise KubeError(
                    f"the API server does not serve pods/ephemeralcontainers (needed by "
                    f"--pods; Kubernetes 1.25+): {e}"
                ) from e
        where[key] = Where(p.namespace, p.name, up.container)
    say(f"ephemeral container {up.container} added to {len(where)} pod(s); waiting for it")
    end = time.monotonic() + ready_timeout
    waiting = set(where)
    while waiting:
        for key in sorted(waiting):
            p = pods[key]
            current = get(client, PODS, p.name, p.namespace)
            state = _running(current, up.container) if current is not None else "pod deleted"
            if state is True:
                waiting.discard(key)
            elif isinstance(state, str):
                raise KubeError(f"ephemeral container in {key}: {state}")
        if waiting and time.monotonic() > end:
            raise KubeError(
                f"ephemeral container not running after {ready_timeout:g} s in: "
                + ", ".join(sorted(waiting))
            )
        if waiting:
            time.sleep(0.25)
    return where


def run_user_probe(
    client: Client,
    up: UserPlan,
    say: Say,
    *,
    timeout: float = 1.0,
    parallel: int = 10,
    qps: float = 20.0,
    ready_timeout: float = 120.0,
    retries: int = 2,
) -> ProbeReport:
    """Add the containers, probe, judge against the prediction made from the plan's read
    (disagreements tried again, as in conformance mode), then read the policies again:
    one deleted, changed or created since the plan is named in the report's notes (the
    prediction stays that of the plan, so its probes show as disagreements)."""
    t0 = time.monotonic()
    where = add_containers(client, up, say, ready_timeout)
    t_up = time.monotonic()

    def factory() -> Execer:
        return execer(client, timeout=timeout + 30)

    observations = probe_and_judge(
        factory,
        up.plan,
        where,
        compute_matrix(up.observed.state),
        timeout=timeout,
        parallel=parallel,
        qps=qps,
        retries=retries,
        say=say,
    )
    t_probe = time.monotonic()
    now = read_policy_versions(client, up.observed.scope)
    notes = policy_changes(up.observed.policy_versions, now, "since the plan was read")
    timings = {"up": t_up - t0, "probe": t_probe - t_up, "total": t_probe - t0}
    return ProbeReport(up.observed.state, up.pods, up.via, tuple(observations), (), timings, notes)
