"""ServiceAccount tokens against a real ``podnet up`` with kubectl 1.37 (and 1.20 as a
token user): ``kubectl create token`` (pkg/registry/core/serviceaccount/storage/
token.go), the token authenticated then authorized by RBAC (pkg/serviceaccount/jwt.go:
403 until a RoleBinding, 401 once the account or the bound pod is gone, or when the
token is expired or tampered with), ``auth whoami``, the pod's kube-api-access volume
(plugin/pkg/admission/serviceaccount), a legacy token Secret filled by the tokens
controller, the OIDC documents, and tokens surviving a restart on the same data dir.

A token user's kubeconfig has no client certificate: kube-apiserver's union
authenticator tries x509 before bearer tokens, so ``--token`` beside the admin's
certificate still authenticates as the admin (as on any cluster: kubernetes/kubectl#1657)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.kube import Kubectl, UpCluster, eventually, kubectl_path, podnet_up
from support.live import require_live

from podnet.apiserver.tokens import claims as cl
from podnet.apiserver.tokens import jws, keys
from podnet.apiserver.tokens.issuer import ISSUER

pytestmark = pytest.mark.kernel

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
UNAUTHORIZED = "error: You must be logged in to the server (Unauthorized)"
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
"""


def _token_kubeconfig(up: UpCluster, path: Path) -> Path:
    """The cluster and its CA only: the user comes from ``--token``."""
    admin = yaml.safe_load(up.kubeconfig.read_text())
    cluster = admin["clusters"][0]
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster],
                "contexts": [{"name": "sa", "context": {"cluster": cluster["name"], "user": "sa"}}],
                "users": [{"name": "sa", "user": {}}],
                "current-context": "sa",
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpCluster]:
    require_live()
    with podnet_up(tmp_path_factory.mktemp("up"), "--nodes", "1") as cluster:
        yield cluster
        rc, err = cluster.stop()
        assert rc == 0, err


@pytest.fixture(scope="module")
def sa_config(up: UpCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _token_kubeconfig(up, tmp_path_factory.mktemp("sa") / "kubeconfig")


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    out: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return out


def _ns(k: Kubectl, what: str) -> str:
    ns = f"sat-{what}"
    k.ok("create", "namespace", ns)
    return ns


def test_create_token_forbidden_until_bound_then_revoked(up: UpCluster, sa_config: Path) -> None:
    k = up.kubectl("1.37")
    ns = _ns(k, "rbac")
    eventually(lambda: k("get", "serviceaccount", "default", "-n", ns).rc == 0, what="default SA")
    token = k.ok("create", "token", "default", "-n", ns).strip()
    claims = _claims(token)
    assert claims["sub"] == f"system:serviceaccount:{ns}:default"
    assert claims["aud"] == [ISSUER] and claims["exp"] - claims["iat"] == 3600
    for version in ("1.37", "1.20"):
        sa = Kubectl(kubectl_path(version), sa_config)
        denied = sa(f"--token={token}", "get", "pods", "-n", ns)
        assert denied.rc == 1
        assert (
            f'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:'
            f'{ns}:default" cannot list resource "pods" in API group "" in the namespace "{ns}"'
        ) in denied.err
    who = Kubectl(kubectl_path("1.37"), sa_config).ok(f"--token={token}", "auth", "whoami")
    assert f"system:serviceaccount:{ns}:default" in who
    assert (
        f"system:serviceaccounts:{ns}" in who
        and "authentication.kubernetes.io/credential-id" in who
    )
    k.ok(
        "create",
        "rolebinding",
        "sa-view",
        "--clusterrole=view",
        f"--serviceaccount={ns}:default",
        "-n",
        ns,
    )
    for version in ("1.37", "1.20"):
        sa = Kubectl(kubectl_path(version), sa_config)
        assert sa(f"--token={token}", "get", "pods", "-n", ns).rc == 0
        # the binding is namespaced
        assert sa(f"--token={token}", "get", "pods", "-n", "default").rc == 1
    k.ok("delete", "serviceaccount", "default", "-n", ns)
    gone = Kubectl(kubectl_path("1.37"), sa_config)(f"--token={token}", "get", "pods", "-n", ns)
    assert gone.rc == 1 and UNAUTHORIZED in gone.err, gone.err


def test_token_flags_and_refusals(up: UpCluster, sa_config: Path) -> None:
    k = up.kubectl("1.37")
    ns = _ns(k, "flags")
    eventually(lambda: k("get", "serviceaccount", "default", "-n", ns).rc == 0, what="default SA")
    token = k.ok(
        "create",
        "token",
        "default",
        "-n",
        ns,
        "--duration",
        "20m",
        "--audience",
        "vault",
        "--audience",
        "s3",
    ).strip()
    claims = _claims(token)
    assert claims["aud"] == ["vault", "s3"] and claims["exp"] - claims["iat"] == 1200
    sa = Kubectl(kubectl_path("1.37"), sa_config)
    # not for the API server's audience
    assert UNAUTHORIZED in sa(f"--token={token}", "get", "pods", "-n", ns).err
    short = k("create", "token", "default", "-n", ns, "--duration", "5m")
    assert short.rc == 1
    assert (
        "spec.expirationSeconds: Invalid value: 300: may not specify a duration less than "
        "10 minutes" in short.err
    )
    missing = k("create", "token", "nobody", "-n", ns)
    assert missing.rc == 1 and 'serviceaccounts "nobody" not found' in missing.err
    good = k.ok("create", "token", "default", "-n", ns).strip()
    head, _body, sig = good.split(".")
    forged = dict(_claims(good), sub="system:serviceaccount:kube-system:default")
    body2 = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    for bad in (f"{head}.{body2}.{sig}", good[:-4] + "AAAA", "garbage"):
        assert UNAUTHORIZED in sa(f"--token={bad}", "auth", "whoami").err
    # signed with the cluster's own key (pki/sa.key in the data dir), but expired
    key = keys.ensure(up.data_dir / "pki")
    account = k.json("get", "serviceaccount", "default", "-n", ns)
    expired = jws.encode(cl.bound(ISSUER, account, [ISSUER], 600, int(time.time()) - 700), key)
    assert UNAUTHORIZED in sa(f"--token={expired}", "auth", "whoami").err
    fresh = jws.encode(cl.bound(ISSUER, account, [ISSUER], 600, int(time.time())), key)
    assert f"system:serviceaccount:{ns}:default" in sa.ok(f"--token={fresh}", "auth", "whoami")
    # TokenReview through kubectl create --raw
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": good},
    }
    out = json.loads(
        k.ok(
            "create",
            "--raw",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            "-f",
            "-",
            stdin=json.dumps(review),
        )
    )
    assert out["status"]["authenticated"] is True
    assert out["status"]["user"]["username"] == f"system:serviceaccount:{ns}:default"


def test_pod_gets_the_token_volume_and_bound_token_dies_with_it(
    up: UpCluster, sa_config: Path
) -> None:
    k = up.kubectl("1.37")
    ns = _ns(k, "pod")
    eventually(lambda: k("get", "serviceaccount", "default", "-n", ns).rc == 0, what="default SA")
    k.ok("apply", "-n", ns, "-f", "-", stdin=POD)
    pod = k.json("get", "pod", "app", "-n", ns)
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"
    (vol,) = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(vol["name"]) == len("kube-api-access-") + 5
    assert vol["projected"]["sources"][0]["serviceAccountToken"] == {
        "expirationSeconds": 3607,
        "path": "token",
    }
    assert {
        "name": vol["name"],
        "readOnly": True,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
    } in spec["containers"][0]["volumeMounts"]
    eventually(
        lambda: k.json("get", "pod", "app", "-n", ns)["status"].get("phase") == "Running",
        60,
        "pod running",
    )
    assert (
        k.ok(
            "exec",
            "app",
            "-n",
            ns,
            "--",
            "cat",
            "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
        )
        == ns
    )
    # the kubelet's projected token: bound to this pod, its account, for the API
    mounted = k.ok("exec", "app", "-n", ns, "--", "cat", f"{MOUNT}/token")
    claims = _claims(mounted)
    assert claims["kubernetes.io"]["pod"]["name"] == "app" and claims["aud"] == [ISSUER]
    assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607  # extended to a year
    who = Kubectl(kubectl_path("1.37"), sa_config).ok(f"--token={mounted}", "auth", "whoami")
    assert f"system:serviceaccount:{ns}:default" in who
    uid = pod["metadata"]["uid"]
    token = k.ok(
        "create",
        "token",
        "default",
        "-n",
        ns,
        "--bound-object-kind",
        "Pod",
        "--bound-object-name",
        "app",
        "--bound-object-uid",
        uid,
    ).strip()
    bound = _claims(token)["kubernetes.io"]
    assert bound["pod"] == {"name": "app", "uid": uid}
    assert bound["node"]["name"] == spec["nodeName"]
    sa = Kubectl(kubectl_path("1.37"), sa_config)
    who = sa.ok(f"--token={token}", "auth", "whoami")
    assert "authentication.kubernetes.io/pod-name" in who and "[app]" in who
    k.ok("delete", "pod", "app", "-n", ns, "--grace-period=0", "--force", "--wait=true")
    eventually(
        lambda: UNAUTHORIZED in sa(f"--token={token}", "auth", "whoami").err,
        20,
        "token dies with pod",
    )
    off = POD.replace("spec:\n", "spec:\n  automountServiceAccountToken: false\n")
    off = off.replace("name: app", "name: quiet")
    k.ok("apply", "-n", ns, "-f", "-", stdin=off)
    assert not k.json("get", "pod", "quiet", "-n", ns)["spec"].get("volumes")


def test_legacy_token_secret_is_filled_and_goes_with_its_account(
    up: UpCluster, sa_config: Path
) -> None:
    k = up.kubectl("1.37")
    ns = _ns(k, "legacy")
    k.ok("create", "serviceaccount", "robot", "-n", ns)
    k.ok(
        "apply",
        "-n",
        ns,
        "-f",
        "-",
        stdin=(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: robot-token\n  annotations:\n"
            "    kubernetes.io/service-account.name: robot\n"
            "type: kubernetes.io/service-account-token\n"
        ),
    )
    secret = eventually(
        lambda: (
            (s := k.json("get", "secret", "robot-token", "-n", ns)).get("data", {}).get("token")
            and s
        ),
        20,
        "token filled",
    )
    data = {key: base64.b64decode(v).decode() for key, v in secret["data"].items()}
    assert data["namespace"] == ns and data["ca.crt"].startswith("-----BEGIN CERTIFICATE-----")
    robot = k.json("get", "serviceaccount", "robot", "-n", ns)
    assert (
        secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"]
        == robot["metadata"]["uid"]
    )
    assert _claims(data["token"])["iss"] == "kubernetes/serviceaccount"
    sa = Kubectl(kubectl_path("1.37"), sa_config)
    assert f"system:serviceaccount:{ns}:robot" in sa.ok(
        f"--token={data['token']}", "auth", "whoami"
    )
    k.ok("delete", "serviceaccount", "robot", "-n", ns)
    eventually(lambda: k("get", "secret", "robot-token", "-n", ns).rc == 1, 20, "secret deleted")
    assert UNAUTHORIZED in sa(f"--token={data['token']}", "auth", "whoami").err


def test_oidc_discovery(up: UpCluster, sa_config: Path) -> None:
    k = up.kubectl("1.37")
    conf = json.loads(k.ok("get", "--raw", "/.well-known/openid-configuration"))
    assert conf["issuer"] == ISSUER and conf["jwks_uri"] == ISSUER + "/openid/v1/jwks"
    jwks = json.loads(k.ok("get", "--raw", "/openid/v1/jwks"))
    token = k.ok("create", "token", "default").strip()
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
    assert [key["kid"] for key in jwks["keys"]] == [kid]
    # service accounts may read them (system:service-account-issuer-discovery)
    sa = Kubectl(kubectl_path("1.37"), sa_config)
    assert json.loads(sa.ok(f"--token={token}", "get", "--raw", "/openid/v1/jwks")) == jwks


def test_tokens_survive_a_restart_on_the_same_data_dir(tmp_path: Path) -> None:
    require_live()
    data = tmp_path / "data"
    with podnet_up(tmp_path / "one", "--nodes", "1", data_dir=data) as first:
        k = first.kubectl("1.37")
        eventually(lambda: k("get", "serviceaccount", "default").rc == 0, what="default SA")
        token = k.ok("create", "token", "default", "--duration", "1h").strip()
        rc, err = first.stop()
        assert rc == 0, err
    assert oct((data / "pki" / "sa.key").stat().st_mode & 0o777) == "0o600"
    with podnet_up(tmp_path / "two", "--nodes", "1", data_dir=data) as second:
        sa = Kubectl(kubectl_path("1.37"), _token_kubeconfig(second, tmp_path / "sa.kubeconfig"))
        assert "system:serviceaccount:default:default" in sa.ok(
            f"--token={token}", "auth", "whoami"
        )
        rc, err = second.stop()
        assert rc == 0, err
