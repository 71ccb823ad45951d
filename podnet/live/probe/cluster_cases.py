"""``podnet probe --cluster --cases PATH...``: the policy truth tables, run for real in
a Kubernetes cluster through its API, as policy-assistant's (formerly cyclonus)
``probe`` and upstream's netpol e2e suite do.

For each case (:mod:`podnet.analyze.conformance_case`; upstream's model: namespaces
x/y/z, agnhost server pods, one Service per pod): create its namespaces, pods and
Services, wait until the pods run, create its policies (``cidr_of(...)`` filled in with
the pods' observed IPs), read it all back, predict with podnet's engine over what was
read, probe every ordered pair on every served port by ``agnhost connect`` through
``pods/exec`` (:mod:`podnet.live.probe.cluster_exec`), judge, try the disagreeing
probes again (a policy a CNI has not programmed yet is not a verdict: upstream's
ValidateOrFail probes twice), read the policies back once more (one deleted or changed
meanwhile is named in the report; its probes stay disagreements), delete the policies.
Cases with the same namespaces, pods and ports share one set-up. Everything created
is deleted at the end, on errors and on Ctrl-C/SIGTERM
(:mod:`podnet.live.probe.cluster_cleanup`).

The case's namespace names are used as they are (the tables select namespaces by
``kubernetes.io/metadata.name``); one that already exists and is not podnet's
(label ``app.kubernetes.io/managed-by=podnet-probe``) makes the run refuse.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from podnet.analyze.conformance_case import Case, cluster_documents, substitute
from podnet.analyze.matrix import compute_matrix
from podnet.errors import ManifestError, PodnetError
from podnet.kube.client import ApiResource, Client, Obj
from podnet.kube.errors import (
    Forbidden,
    KubeConfigError,
    KubeError,
    NotFound,
    Unauthorized,
    Unreachable,
)
from podnet.kube.observed import pod_ipv4, pod_ready, to_state
from podnet.kube.read import (
    CLUSTER_POLICY_KINDS,
    ENDPOINT_SLICES,
    NAMESPACES,
    NETWORK_POLICIES,
    NODES,
    PODS,
    POLICY_GROUP,
    SERVICES,
    Snapshot,
    cluster_policy_resources,
)
from podnet.kube.write import create, delete, execer, get
from podnet.kube.wsexec import Execer
from podnet.live.probe.cluster_cleanup import MANAGED_BY, MANAGER, Created
from podnet.live.probe.cluster_exec import Where, probe_and_judge
from podnet.live.probe.plan import plan_probes
from podnet.live.probe.result import ProbeReport

Say = Callable[[str], None]
KIND_PLURAL = {kind: plural for plural, kind in CLUSTER_POLICY_KINDS.items()}


@dataclass(frozen=True)
class Settings:
    via: str = "pod"  # "service": through each pod's Service (a ``via: pod`` case: pod)
    timeout: float = 1.0  # agnhost connect --timeout
    parallel: int = 10  # execs at once
    qps: float = 20.0  # new execs per second
    ready_timeout: float = 180.0  # for the case's pods to run
    settle: float = 1.0  # after creating policies, before probing
    retries: int = 2  # extra tries of disagreeing probes, 1 s apart


@dataclass
class CaseRun:
    case: Case
    report: ProbeReport | None = None
    error: str = ""  # set when the case could not be run
    policies: list[tuple[ApiResource, str, str | None]] = field(default_factory=list)


def layout_key(case: Case) -> str:
    """Cases with equal keys can share namespaces, pods and Services."""
    return json.dumps(cluster_documents(case), sort_keys=True)


class Conformance:
    """One run over many cases against one cluster; :meth:`run` then (always) cleanup."""

    def __init__(
        self, client: Client, created: Created, settings: Settings, say: Say | None = None
    ) -> None:
        self.client, self.created, self.s = client, created, settings
        self.say: Say = say or (lambda _m: None)
        self._served: dict[str, ApiResource] | None = None
        self.cleanup_errors: list[str] = []  # namespaces of a group that did not go

    # -- set-up ----------------------------------------------------------------------
    def _check_free(self, names: Sequence[str]) -> None:
        for ns in names:
            found = get(self.client, NAMESPACES, ns)
            if found is None:
                continue
            labels = (found.get("metadata") or {}).get("labels") or {}
            if labels.get(MANAGED_BY) != MANAGER:
                raise KubeError(
                    f"namespace {ns} already exists and is not podnet's probe namespace: "
                    "refusing to use it (run against a cluster without it)"
                )
            self.say(f"namespace {ns} is left from an earlier probe run: deleting it")
            delete(self.client, NAMESPACES, ns)
            end = time.monotonic() + 120
            while get(self.client, NAMESPACES, ns) is not None:
                if time.monotonic() > end:
                    raise KubeError(f"namespace {ns} from an earlier probe run is still there")
                time.sleep(0.2)

    def set_up(self, case: Case) -> None:
        docs = cluster_documents(case)
        names = [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"]
        self._check_free(names)
        ours = self.created.labels()
        for d in docs:
            meta = d["metadata"]
            if d["kind"] == "Namespace":
                meta["labels"] = {**meta.get("labels", {}), **ours}
                self.created.namespaces.append(meta["name"])  # before: a lost answer too
                create(self.client, NAMESPACES, d)
        for d in docs:
            meta = d["metadata"]
            if d["kind"] == "Pod":
                meta["labels"] = {**meta.get("labels", {}), MANAGED_BY: MANAGER}
                create(self.client, PODS, d, meta["namespace"])
            elif d["kind"] == "Service":
                meta["labels"] = {MANAGED_BY: MANAGER}
                create(self.client, SERVICES, d, meta["namespace"])
        self._wait_running(case)

    def _wait_running(self, case: Case) -> dict[str, Obj]:
        want = set(case.pod_keys())
        namespaces = sorted({k.split("/")[0] for k in want})
        end = time.monotonic() + self.s.ready_timeout
        while True:
            pods = {
                f"{ns}/{p['metadata']['name']}": p
                for ns in namespaces
                for p in self.client.list(PODS, ns)
            }
            waiting = sorted(
                k for k in want if k not in pods or not (pod_ready(pods[k]) and pod_ipv4(pods[k]))
            )
            if not waiting:
                return pods
            if time.monotonic() > end:
                raise KubeError(
                    f"pods not running and ready after {self.s.ready_timeout:g} s: "
                    + ", ".join(f"{k} ({_phase(pods.get(k))})" for k in waiting[:10])
                )
            time.sleep(0.25)

    # -- policies --------------------------------------------------------------------
    def _resource(self, doc: Obj) -> ApiResource:
        kind, api_version = str(doc.get("kind")), str(doc.get("apiVersion"))
        if kind == "NetworkPolicy":
            return NETWORK_POLICIES
        if kind in KIND_PLURAL and api_version.startswith(POLICY_GROUP + "/"):
            if self._served is None:
                self._served = {
                    f"{r.kind}/{r.version}": r for r in cluster_policy_resources(self.client)
                }
                # every version the server lists, not only the preferred one
                self._served.update(self._all_versions())
            version = api_version.split("/", 1)[1]
            res = self._served.get(f"{kind}/{version}")
            if res is None:
                raise NotFound(f"the cluster does not serve {kind} {api_version}")
            return res
        raise ManifestError(f"podnet probe --cluster cannot create a {kind} {api_version}")

    def _all_versions(self) -> dict[str, ApiResource]:
        out: dict[str, ApiResource] = {}
        try:
            group = self.client.get_json(f"/apis/{POLICY_GROUP}", resource=POLICY_GROUP)
        except NotFound:
            return out
        for v in group.get("versions") or []:
            version = str(v.get("version"))
            try:
                listing = self.client.get_json(f"/apis/{POLICY_GROUP}/{version}")
            except NotFound:
                continue
            for r in listing.get("resources") or []:
                plural = str(r.get("name") or "")
                if plural in CLUSTER_POLICY_KINDS:
                    kind = CLUSTER_POLICY_KINDS[plural]
                    out[f"{kind}/{version}"] = ApiResource(
                        POLICY_GROUP, version, plural, kind, False
                    )
        return out

    def apply_policies(self, run: CaseRun, ips: dict[str, str]) -> None:
        for doc, _line in run.case.policies:
            obj: Obj = substitute(doc, ips)
            res = self._resource(obj)
            meta = obj.setdefault("metadata", {})
            stem = Path(run.case.path).stem[:63].strip("-_.")
            meta["labels"] = {**(meta.get("labels") or {}), **self.created.labels(stem)}
            ns = str(meta.get("namespace") or "default") if res.namespaced else None
            if ns is not None:
                meta["namespace"] = ns
            else:
                self.created.cluster_objects.append((res, str(meta["name"])))
            run.policies.append((res, str(meta["name"]), ns))
            create(self.client, res, obj, ns)

    def delete_policies(self, run: CaseRun) -> None:
        for res, name, ns in reversed(run.policies):
            delete(self.client, res, name, ns)  # already gone: fine (deleted mid-run)
            if ns is None and (res, name) in self.created.cluster_objects:
                self.created.cluster_objects.remove((res, name))

    def _policy_versions(self, run: CaseRun) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for res, name, ns in run.policies:
            found = get(self.client, res, name, ns)
            key = f"{res.kind} {ns + '/' if ns else ''}{name}"
            out[key] = None if found is None else str(found["metadata"].get("resourceVersion"))
        return out

    # -- read back and probe ---------------------------------------------------------
    def read_back(self, case: Case) -> Snapshot:
        """The case's namespaces and what is in them, every cluster policy, the nodes."""
        namespaces = sorted({k.split("/")[0] for k in case.pod_keys()} | set(case.namespaces))
        snap = Snapshot()
        for ns in namespaces:
            obj = get(self.client, NAMESPACES, ns)
            if obj is None:
                raise KubeError(f"namespace {ns} vanished during the run")
            obj.setdefault("kind", "Namespace")
            obj.setdefault("apiVersion", "v1")
            snap.namespaces.append(obj)
            snap.pods += self.client.list(PODS, ns)
            snap.services += self.client.list(SERVICES, ns)
            snap.endpoint_slices += self.client.list(ENDPOINT_SLICES, ns)
            snap.policies += self.client.list(NETWORK_POLICIES, ns)
        for res in cluster_policy_resources(self.client):
            snap.cluster_policies += self.client.list(res)
        snap.nodes = self.client.list(NODES)
        return snap

    def probe_case(self, run: CaseRun) -> ProbeReport:
        case = run.case
        t0 = time.monotonic()
        pods_now = self._wait_running(case)
        ips = {k: ip for k, p in pods_now.items() if (ip := pod_ipv4(p))}
        self.apply_policies(run, ips)
        observed = to_state(self.read_back(case))
        state = observed.state
        before = self._policy_versions(run)
        keys = set(case.pod_keys())
        pods = sorted((p for p in state.pods if p.key in keys and p.ip), key=lambda p: p.key)
        via = "pod" if case.via == "pod" else self.s.via
        plan = plan_probes(state, pods, via)
        where = {p.key: Where(p.namespace, p.name, _first_container(pods_now[p.key])) for p in pods}
        matrix = compute_matrix(state)
        self.say(
            f"case {case.name}: {len(run.policies)} polic(ies) created; "
            f"probing {sum(1 for x in plan if x.address)} connection(s) via {via}"
        )
        time.sleep(self.s.settle)
        t_up = time.monotonic()

        def factory() -> Execer:
            return execer(self.client, timeout=self.s.timeout + 30)

        observations = probe_and_judge(
            factory,
            plan,
            where,
            matrix,
            timeout=self.s.timeout,
            parallel=self.s.parallel,
            qps=self.s.qps,
            retries=self.s.retries,
            say=self.say,
            label=f"case {case.name}: ",
        )
        t_probe = time.monotonic()
        after = self._policy_versions(run)
        notes = tuple(
            f"{key}: {'deleted' if after[key] is None else 'changed'} while probing"
            for key in before
            if before[key] != after[key]
        )
        timings = {"up": t_up - t0, "probe": t_probe - t_up, "total": time.monotonic() - t0}
        return ProbeReport(state, tuple(pods), via, tuple(observations), (), timings, notes)

    def run(self, cases: Sequence[Case]) -> list[CaseRun]:
        """Every case, grouped by set-up; a :class:`CaseRun` for each, always (the report
        is printed whatever happened, so a failure never leaves stdout empty).

        A case that fails on its own (a policy kind the cluster does not serve, a policy
        podnet cannot read, a pod that died) is reported and the others go on. A set-up
        that failed (pods that never ran, a namespace that would not go) or a failure no
        later case would escape (unreachable, credentials refused, a permission missing,
        an error of podnet's own) stops the run: the cases not reached are reported with
        the reason."""
        groups: dict[str, list[Case]] = {}
        for c in cases:
            groups.setdefault(layout_key(c), []).append(c)
        runs: list[CaseRun] = []
        stopped = ""
        for group in groups.values():
            if stopped:
                runs += [CaseRun(c, error=f"run stopped: {stopped}") for c in group]
                continue
            try:
                self.set_up(group[0])
            except Exception as e:  # (reported, then the run stops)
                stopped = self._failure(e, f"set-up for {group[0].name}", fatal=True)
                runs += [CaseRun(c, error=f"set-up failed: {stopped}") for c in group]
                continue  # the run's final cleanup deletes what the set-up created
            for case in group:
                run = CaseRun(case)
                runs.append(run)
                if stopped:
                    run.error = f"run stopped: {stopped}"
                    continue
                try:
                    run.report = self.probe_case(run)
                except Exception as e:  # (reported, then stopped or skipped)
                    run.error = self._failure(e, f"case {case.name}", _fatal(e))
                    if _fatal(e):
                        stopped = run.error
                finally:
                    with contextlib.suppress(KubeError):  # the final cleanup retries
                        self.delete_policies(run)
            if not stopped:
                self._tear_down_group()
        return runs

    def _failure(self, e: Exception, what: str, fatal: bool) -> str:
        """One line for the report; said on stderr at once (with the traceback when it
        is podnet's own error: that is a bug to report, not a cluster's answer)."""
        if isinstance(e, PodnetError):
            reason = str(e)
        else:
            reason = f"internal error: {type(e).__name__}: {e}"
            for line in traceback.format_exception(e):
                self.say(line.rstrip("\n"))
        self.say(f"{what}: {'error, stopping the run' if fatal else 'not run'}: {reason}")
        return reason

    def _tear_down_group(self) -> None:
        """The group's namespaces go before the next group's (names repeat). What could
        not be deleted is kept for the run's end (exit 1); the next set-up waits for
        such a namespace again, and says so if it is still there."""
        from podnet.live.probe.cluster_cleanup import cleanup

        try:
            errors = cleanup(self.client, self.created, self.say)
        except KubeError as e:
            errors = [str(e)]
        for line in errors:
            self.say(f"cleanup: {line}")
        self.cleanup_errors += errors


# Failures after which no other case could run either: the server unreachable, the
# credentials refused, a permission missing (RBAC), podnet's own bug.
_FATAL_KUBE = (Unreachable, Unauthorized, Forbidden, KubeConfigError)


def _fatal(e: Exception) -> bool:
    return isinstance(e, _FATAL_KUBE) or not isinstance(e, PodnetError)


def _first_container(pod: Obj) -> str:
    return str(((pod.get("spec") or {}).get("containers") or [{}])[0].get("name") or "")


def _phase(pod: Obj | None) -> str:
    """What a pod that is not ready is doing, as ``kubectl get pods`` would say it: its
    phase and each unready container's waiting or terminated reason and restarts."""
    if pod is None:
        return "not created"
    status = pod.get("status") or {}
    parts = [str(status.get("phase") or "Pending")]
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        parts.append("terminating")
    if not pod_ipv4(pod) and parts[0] == "Running":
        parts.append("no IPv4 address")
    for c in status.get("containerStatuses") or []:
        if c.get("ready"):
            continue
        state = c.get("state") or {}
        kind = next(iter(state), "unknown")
        reason = (state.get(kind) or {}).get("reason") or kind
        restarts = int(c.get("restartCount") or 0)
        parts.append(f"{c.get('name')} {reason}" + (f", {restarts} restarts" if restarts else ""))
    return "; ".join(parts)
