"""The classic NetworkPolicy recipes (github.com/ahmetb/kubernetes-network-policy-recipes)
against ``podnet up`` with real kubectl, their commands as written: the server is
``kubectl run web --image=nginx --labels="app=web" --expose --port=80``, the policies
are the recipes' manifests (examples/recipes/ahmetb), the clean-up is each recipe's own.

The recipes' clients are ``kubectl run --rm -i -t --image=alpine test-$RANDOM -- sh``
typing ``wget -qO- --timeout=2 http://web``. podnet has no alpine image offline (it
reports ErrImagePull, tested below), so the clients here are the built-in busybox,
whose wget takes the same options, and they run the typed command non-interactively
(``--rm -i --restart=Never -- wget ...``, kubectl returning its exit code); the
Declare Network Policy tests drive real ``-ti`` shells. Each test asserts the recipe's
documented outcome: the nginx page, or ``wget: download timed out``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from support.kube import KUBECTL_VERSIONS, Done, Kubectl, UpCluster, eventually, podnet_up
from support.live import require_live
from support.paths import REPO

pytestmark = pytest.mark.kernel

RECIPES = REPO / "examples" / "recipes" / "ahmetb"
NEW, OLD = KUBECTL_VERSIONS[-1], KUBECTL_VERSIONS[0]


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up-recipes")) as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


def _apply(k: Kubectl, *names: str) -> None:
    for name in names:
        k.ok("apply", "-f", str(RECIPES / name))


def _run_web(k: Kubectl, *extra: str, name: str = "web", labels: str = "app=web") -> None:
    """``kubectl run web --image=nginx --labels="app=web" --expose --port=80``, ready."""
    out = k.ok("run", name, *extra, "--image=nginx", f"--labels={labels}", "--expose", "--port=80")
    assert f"pod/{name} created" in out and f"service/{name} created" in out, out
    ns = [a for a in extra if a.startswith("--namespace")]
    k.ok("wait", *ns, "--for=condition=Ready", f"pod/{name}", "--timeout=60s", timeout=70)


def _client(k: Kubectl, *args: str, cmd: str = "wget -qO- --timeout=2 http://web") -> Done:
    """A recipe's ``kubectl run test-$RANDOM ... --image=alpine -- sh`` typing ``cmd``:
    busybox, run to completion (see the module docstring)."""
    name = f"test-{random.randint(0, 32767)}"  # test-$RANDOM
    argv = ["run", name, "--rm", "-i", "--restart=Never", "--image=busybox", *args]
    return k(*argv, "--", *cmd.split(), timeout=60)


def _state(k: Kubectl) -> str:
    """What the cluster looked like, for a failure's message."""
    return k("get", "pods,services,endpoints,networkpolicies", "-A", "-o", "wide").out


def _allowed(k: Kubectl, got: Done) -> None:
    assert got.rc == 0 and "<!DOCTYPE html>" in got.out, (got, _state(k))


def _timed_out(k: Kubectl, got: Done) -> None:
    ok = got.rc == 1 and "wget: download timed out" in got.out + got.err
    assert ok and "<!DOCTYPE html>" not in got.out, (got, _state(k))


def test_recipe_01_deny_all_traffic_to_an_application(up: UpCluster) -> None:
    k = up.kubectl(NEW)
    _run_web(k)
    try:
        _allowed(k, _client(k, cmd="wget -qO- http://web"))
        _apply(k, "web-deny-all.yaml")
        _timed_out(k, _client(k))
    finally:
        k.ok("delete", "pod", "web")
        k.ok("delete", "service", "web")
        k.ok("delete", "networkpolicy", "web-deny-all", "--ignore-not-found")


def test_recipe_02_limit_traffic_to_an_application(up: UpCluster) -> None:
    k = up.kubectl(OLD)
    _run_web(k, name="apiserver", labels="app=bookstore,role=api")
    try:
        _apply(k, "api-allow.yaml")
        _timed_out(k, _client(k, cmd="wget -qO- --timeout=2 http://apiserver"))
        labels = "--labels=app=bookstore,role=frontend"
        _allowed(k, _client(k, labels, cmd="wget -qO- --timeout=2 http://apiserver"))
    finally:
        k.ok("delete", "pod", "apiserver")
        k.ok("delete", "service", "apiserver")
        k.ok("delete", "networkpolicy", "api-allow", "--ignore-not-found")


def test_recipe_02a_allow_all_traffic_to_an_application(up: UpCluster) -> None:
    k = up.kubectl(NEW)
    _run_web(k)
    try:
        _apply(k, "web-allow-all.yaml", "web-deny-all.yaml")  # web-allow-all voids deny-all
        _allowed(k, _client(k))
    finally:
        k.ok("delete", "pod,service", "web")
        k.ok("delete", "networkpolicy", "web-allow-all", "web-deny-all", "--ignore-not-found")


def test_recipe_03_deny_all_non_whitelisted_traffic_in_the_namespace(up: UpCluster) -> None:
    """The recipe has only its manifest; its effect is shown on the recipes' web."""
    k = up.kubectl(NEW)
    _run_web(k)
    try:
        _apply(k, "default-deny-all.yaml")
        _timed_out(k, _client(k))
    finally:
        k.ok("delete", "networkpolicy", "default-deny-all", "--ignore-not-found")
        k.ok("delete", "pod,service", "web")


def test_recipe_04_deny_traffic_from_other_namespaces(up: UpCluster) -> None:
    k = up.kubectl(NEW)
    _run_web(k, "--namespace=default")
    try:
        _apply(k, "deny-from-other-namespaces.yaml")
        k.ok("create", "namespace", "foo")
        url = "wget -qO- --timeout=2 http://web.default"
        _timed_out(k, _client(k, "--namespace=foo", cmd=url))
        _allowed(k, _client(k, "--namespace=default", cmd=url))
    finally:
        k.ok("delete", "pod", "web", "-n", "default")
        k.ok("delete", "service", "web", "-n", "default")
        k.ok("delete", "networkpolicy", "deny-from-other-namespaces", "-n", "default")
        k.ok("delete", "namespace", "foo", "--ignore-not-found")


def test_recipe_05_allow_traffic_from_all_namespaces(up: UpCluster) -> None:
    """With web-deny-all beside it (the recipe: only needed when a policy blocks web),
    so that the allowed answer depends on this policy."""
    k = up.kubectl(NEW)
    _run_web(k, "--namespace=default")
    try:
        _apply(k, "web-deny-all.yaml")
        k.ok("create", "namespace", "secondary")
        url = "wget -qO- --timeout=2 http://web.default"
        _timed_out(k, _client(k, "--namespace=secondary", cmd=url))
        _apply(k, "web-allow-all-namespaces.yaml")
        _allowed(k, _client(k, "--namespace=secondary", cmd=url))
    finally:
        k.ok("delete", "pod", "web", "-n", "default")
        k.ok("delete", "service", "web", "-n", "default")
        k.ok("delete", "networkpolicy", "web-allow-all-namespaces", "web-deny-all", "-n", "default")
        k.ok("delete", "namespace", "secondary", "--ignore-not-found")


def test_recipe_06_allow_traffic_from_a_namespace(up: UpCluster) -> None:
    k = up.kubectl(OLD)
    _run_web(k)
    try:
        k.ok("create", "namespace", "dev")
        k.ok("label", "namespace/dev", "purpose=testing")
        k.ok("create", "namespace", "prod")
        k.ok("label", "namespace/prod", "purpose=production")
        _apply(k, "web-allow-prod.yaml")
        url = "wget -qO- --timeout=2 http://web.default"
        _timed_out(k, _client(k, "--namespace=dev", cmd=url))
        _allowed(k, _client(k, "--namespace=prod", cmd=url))
    finally:
        k.ok("delete", "networkpolicy", "web-allow-prod", "--ignore-not-found")
        k.ok("delete", "pod", "web")
        k.ok("delete", "service", "web")
        k.ok("delete", "namespace", "prod", "dev", "--ignore-not-found")


def test_recipe_11_deny_egress_traffic_from_an_application(up: UpCluster) -> None:
    """First form denies everything, DNS included (test_recipe_11_dns_denied_is_a_bad_
    address has the recipe's words for it); the second allows DNS to kube-dns, and the
    connection to web is what times out. A pod without app=foo is not selected."""
    k = up.kubectl(NEW)
    _run_web(k)
    try:
        _apply(k, "foo-deny-egress.yaml")
        got = _client(k, "--labels=app=foo", cmd="wget -qO- --timeout 1 http://web:80/")
        assert got.rc == 1 and "<!DOCTYPE html>" not in got.out, got
        _apply(k, "foo-deny-egress-allow-dns.yaml")
        _timed_out(k, _client(k, "--labels=app=foo", cmd="wget --timeout 1 -O- http://web"))
        _allowed(k, _client(k, cmd="wget --timeout 1 -O- http://web"))
    finally:
        k.ok("delete", "pod,service", "web")
        k.ok("delete", "networkpolicy", "foo-deny-egress", "--ignore-not-found")


def test_recipe_11_dns_denied_is_a_bad_address(up: UpCluster) -> None:
    """DNS denied, busybox's wget cannot resolve web and says so as upstream's does
    (``bad address 'HOST'``), not "download timed out": the lookup is bounded by
    --timeout and comes before the fetch (images/builtin.py's wrapper)."""
    k = up.kubectl(NEW)
    _run_web(k)  # web resolves for everyone else: only the denied DNS makes it unknown
    try:
        _apply(k, "foo-deny-egress.yaml")
        got = _client(k, "--labels=app=foo", cmd="wget -qO- --timeout 1 http://web:80/")
        assert got.rc == 1 and "wget: bad address 'web:80'" in got.out + got.err, got
    finally:
        k.ok("delete", "pod,service", "web")
        k.ok("delete", "networkpolicy", "foo-deny-egress", "--ignore-not-found")


def test_recipe_12_deny_all_non_whitelisted_traffic_from_the_namespace(up: UpCluster) -> None:
    """The recipe has only its manifest: every pod of default loses its egress, DNS
    included, while a pod of another namespace still reaches web."""
    k = up.kubectl(NEW)
    _run_web(k)
    try:
        _apply(k, "default-deny-all-egress.yaml")
        got = _client(k)
        assert got.rc == 1 and "<!DOCTYPE html>" not in got.out, got
        k.ok("create", "namespace", "other")
        _allowed(k, _client(k, "--namespace=other", cmd="wget -qO- --timeout=2 http://web.default"))
    finally:
        k.ok("delete", "networkpolicy", "default-deny-all-egress", "--ignore-not-found")
        k.ok("delete", "pod,service", "web")
        k.ok("delete", "namespace", "other", "--ignore-not-found")


def test_recipes_alpine_is_not_an_image_podnet_has(up: UpCluster) -> None:
    """The recipes' --image=alpine: without a registry podnet cannot pull it, and says
    so the way a kubelet does (ErrImagePull / ImagePullBackOff, the image named)."""
    k = up.kubectl(NEW)
    name = f"test-{random.randint(0, 32767)}"
    k.ok("run", name, "--image=alpine", "--restart=Never", "--", "sh")

    def waiting() -> str:
        st = k.json("get", "pod", name).get("status") or {}
        states = [c.get("state") or {} for c in st.get("containerStatuses") or []]
        reasons = [s.get("waiting", {}).get("reason", "") for s in states]
        return next((r for r in reasons if r in ("ErrImagePull", "ImagePullBackOff")), "")

    eventually(waiting, 60, "alpine's pull fails")
    events = k.ok("get", "events", "--field-selector", f"involvedObject.name={name}")
    assert "ErrImagePull" in events and "alpine" in events, events
    k.ok("delete", "pod", name, "--grace-period=0", "--force")
